/* DEPTHWISE_CONV_2D with int4 filters read from their packed nibbles (PE_LAYOUT_QS4_DW).
 *
 * The layout is TFLite's own INT4 packing of the filter [1, KH, KW, OC]: element
 * i = (fy * KW + fx) * OC + oc in the low (i even) or high (i odd) nibble of byte i / 2, values in
 * [-8, 7]; (KH * KW * OC + 1) / 2 bytes. Bias (int32, or none), multipliers and shifts stay the
 * op's own inputs. The arithmetic is TFLite's int8 DepthwiseConvPerChannel (any depth multiplier:
 * output channel oc reads input channel oc / multiplier; taps in the padding skipped), the sums
 * wrapped mod 2^32 as TFLite's int32 accumulator. */
#ifndef PE_QS4_DWCONV_H
#define PE_QS4_DWCONV_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* Bytes of the int4 depthwise layout for kh x kw taps and oc output channels. */
uint32_t pe_qs4_dw_packed_bytes(int32_t kh, int32_t kw, int32_t oc);
/* END CDEF */

/* The variant's driver: scalar, threads over output rows. */
pe_status pe_depthwise_conv_2d__qs4(const pe_op_ctx *ctx);

#endif
