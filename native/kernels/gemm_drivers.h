/* Drivers over the microkernels: the variant table's eval functions and the descriptors of the
 * microkernels they call (native/kernels.def). Drivers hold no ISA code. */
#ifndef PE_GEMM_DRIVERS_H
#define PE_GEMM_DRIVERS_H

#include "pe_kernel.h"
#include "qs8_dwconv.h"
#include "qs8_gemm.h"

typedef struct {
  pe_qs8_dw_fn fn;
} pe_qs8_dw_ukernel;

extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_1x16c4__scalar;
extern const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__scalar;
#if PE_X86_KERNELS
extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__avx2;
extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_8x16c4__avx512vnni;
extern const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx2;
extern const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx512;
extern const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx512vnni;
#endif
#if PE_NEON_KERNELS
extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_neon; /* 2x16c4 on AArch64, 1x16c4 on ARMv7 */
extern const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__neon;
#endif
#if PE_MVE_KERNELS
extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__mve;
extern const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__mve;
#endif
#if PE_DSP_KERNELS
extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_8x16c4__dsp;
extern const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__dsp;
#endif
#if PE_ARM64_KERNELS
extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__neondot;
extern const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__neoni8mm;
#endif

/* int4-weight GEMM microkernels (qs4_gemm.h), run by the same drivers */
extern const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_1x16c8__scalar;
#if PE_X86_KERNELS
extern const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_4x16c8__avx2;
extern const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_8x16c8__avx512vnni;
#endif
#if PE_ARM64_KERNELS
extern const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_2x16c8__neon;
#endif

/* Largest tile height of any GEMM microkernel: the im2col panel holds this many rows. */
#define PE_GEMM_MR_MAX 8

pe_status pe_conv_2d__gemm(const pe_op_ctx *ctx);
pe_status pe_fully_connected__gemm(const pe_op_ctx *ctx);
/* the same over int4 weights (PE_LAYOUT_QS4_GEMM_N16K8) */
pe_status pe_conv_2d__gemm4(const pe_op_ctx *ctx);
pe_status pe_fully_connected__gemm4(const pe_op_ctx *ctx);
pe_status pe_depthwise_conv_2d__rows(const pe_op_ctx *ctx);
int pe_depthwise_conv_2d__rows_accepts(const pe_op_ctx *ctx);
/* the GEMM packed-layout check shared by the conv and FC check functions */
pe_status pe_gemm_packed_check(const pe_tensor *packed, const pe_tensor *mult, const pe_tensor *shift,
                               int32_t oc, int32_t k);
/* the same for a given GEMM layout (PE_LAYOUT_QS8_GEMM_N16K4 or PE_LAYOUT_QS4_GEMM_N16K8) */
pe_status pe_gemm_layout_check(const pe_tensor *packed, const pe_tensor *mult, const pe_tensor *shift,
                               int32_t oc, int32_t k, uint32_t layout);


/* BEGIN CDEF */
/* Scratch bytes a GEMM-layout op needs for k inputs per output, `rows` output rows (pixels or
   batch rows) and `threads` threads: a panel of min(rows, PE_GEMM_MR_MAX) rows per thread. */
uint32_t pe_gemm_scratch_bytes(int32_t k, int32_t rows, uint32_t threads);
/* END CDEF */
/* The op's scratch holds a panel of depth k (and as many rows as the op has, up to
   PE_GEMM_MR_MAX) for each thread the model was planned for. */
pe_status pe_gemm_scratch_check(const pe_op_ctx *ctx, int32_t k, int32_t rows);

#endif
