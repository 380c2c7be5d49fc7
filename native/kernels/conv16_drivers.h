/* Drivers of the 16x8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED variants over the qs16_dot
 * and qs16_gemm microkernels (native/kernels.def). */
#ifndef PE_CONV16_DRIVERS_H
#define PE_CONV16_DRIVERS_H

#include "pe_kernel.h"
#include "qs16_dot.h"
#include "qs16_gemm.h"

extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__scalar;
extern const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_1x16c4__scalar;
#if PE_X86_KERNELS
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx2;
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx512;
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx512vnni;
extern const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_2x16c4__avx2;
extern const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_8x16c4__avx512;
extern const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_8x16c4__avx512vnni;
#endif
#if PE_NEON_KERNELS
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__neon;
extern const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_1x16c4__neon;
#endif

/* Generic layout (TFLite's weights): */
/* int16 input, one group (the filter's depth is the input's) */
int pe_conv_2d__dot16_accepts(const pe_op_ctx *ctx);
pe_status pe_conv_2d__dot16(const pe_op_ctx *ctx);
/* int16 input, depth multiplier 1 */
int pe_depthwise_conv_2d__dot16_accepts(const pe_op_ctx *ctx);
pe_status pe_depthwise_conv_2d__dot16(const pe_op_ctx *ctx);
/* int16 input, no input or weight offset */
int pe_fully_connected__dot16_accepts(const pe_op_ctx *ctx);
pe_status pe_fully_connected__dot16(const pe_op_ctx *ctx);

/* The packed GEMM layout (qs16_gemm.h): CONV_2D and FULLY_CONNECTED; accepts: int16 input */
int pe_gemm16_accepts(const pe_op_ctx *ctx);
pe_status pe_conv_2d__gemm16(const pe_op_ctx *ctx);
pe_status pe_fully_connected__gemm16(const pe_op_ctx *ctx);

/* BEGIN CDEF */
/* Scratch bytes of a 16x8 GEMM-layout op with k inputs per output, `rows` output rows and
   `threads` threads: an int16 panel of min(rows, 8) rows of round_up(k, 4) per thread. */
uint32_t pe_gemm16_scratch_bytes(int32_t k, int32_t rows, uint32_t threads);
/* END CDEF */
pe_status pe_gemm16_scratch_check(const pe_op_ctx *ctx, int32_t k, int32_t rows);

#endif
