/* Drivers of the 16x8 CONV_2D and FULLY_CONNECTED variants over the qs16_dot microkernels
 * (native/kernels.def). */
#ifndef PE_CONV16_DRIVERS_H
#define PE_CONV16_DRIVERS_H

#include "pe_kernel.h"
#include "qs16_dot.h"

extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__scalar;
#if PE_X86_KERNELS
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx2;
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx512;
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx512vnni;
#endif
#if PE_NEON_KERNELS
extern const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__neon;
#endif

/* int16 input, one group (the filter's depth is the input's) */
int pe_conv_2d__dot16_accepts(const pe_op_ctx *ctx);
pe_status pe_conv_2d__dot16(const pe_op_ctx *ctx);
/* int16 input, depth multiplier 1 */
int pe_depthwise_conv_2d__dot16_accepts(const pe_op_ctx *ctx);
pe_status pe_depthwise_conv_2d__dot16(const pe_op_ctx *ctx);
/* int16 input, no input or weight offset */
int pe_fully_connected__dot16_accepts(const pe_op_ctx *ctx);
pe_status pe_fully_connected__dot16(const pe_op_ctx *ctx);

#endif
