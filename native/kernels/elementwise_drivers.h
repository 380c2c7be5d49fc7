/* Drivers of the elementwise microkernels (native/kernels.def rows for ADD and SUB). */
#ifndef PE_ELEMENTWISE_DRIVERS_H
#define PE_ELEMENTWISE_DRIVERS_H

#include "pe_kernel.h"
#include "qs8_prelu.h"
#include "qs8_vadd.h"

typedef struct {
  pe_qs8_vadd_fn fn;
  pe_qs16_vadd_fn fn16; /* the same on int16 storage */
} pe_qs8_vadd_ukernel;

extern const pe_qs8_vadd_ukernel pe_uk_qs8_vadd__scalar;
#if PE_X86_KERNELS
extern const pe_qs8_vadd_ukernel pe_uk_qs8_vadd_16x__avx2;
extern const pe_qs8_vadd_ukernel pe_uk_qs8_vadd_16x__avx512;
#endif
#if PE_NEON_KERNELS
extern const pe_qs8_vadd_ukernel pe_uk_qs8_vadd_16x__neon;
#endif

typedef struct {
  pe_qs8_prelu_fn fn;
} pe_qs8_prelu_ukernel;

extern const pe_qs8_prelu_ukernel pe_uk_qs8_prelu__scalar;
#if PE_X86_KERNELS
extern const pe_qs8_prelu_ukernel pe_uk_qs8_prelu_16x__avx2;
extern const pe_qs8_prelu_ukernel pe_uk_qs8_prelu_16x__avx512;
#endif
#if PE_NEON_KERNELS
extern const pe_qs8_prelu_ukernel pe_uk_qs8_prelu_16x__neon;
#endif

/* int8 PRELU with alpha over the input's trailing dims (per channel, or the whole shape). */
int pe_prelu__rows_accepts(const pe_op_ctx *ctx);
pe_status pe_prelu__rows(const pe_op_ctx *ctx);

/* int8 ADD/SUB, rescaling kind, each input the output's shape or a single value. */
int pe_add_sub__vadd_accepts(const pe_op_ctx *ctx);
pe_status pe_add__vadd(const pe_op_ctx *ctx);
pe_status pe_sub__vadd(const pe_op_ctx *ctx);

#endif
