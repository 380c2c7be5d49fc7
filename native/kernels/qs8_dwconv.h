/* int8 depthwise convolution microkernels (generic layout: TFLite's filter [1, KH, KW, OC]).
 *
 * The DEPTHWISE_CONV_2D driver calls one microkernel per output row segment. Contract: for
 * output pixels ox in [0, n_px) of one output row and all channels c in [0, channels)
 * (depth multiplier 1: channel c reads input channel c):
 *   acc = bias[c] + sum over taps (fy, fx) inside the input of
 *               w[(fy * kw + fx) * channels + c] * (x + input_offset)      (mod 2^32)
 *   y   = clamp(mbqm(acc, mult[c], shift[c]) + output_offset, act_min, act_max)
 * Taps outside the input are skipped (TFLite's reference kernel), as the scalar kernel does.
 * Results are bit-identical to the scalar DEPTHWISE_CONV_2D kernel.
 *
 * With filter_u8 the filter bytes are uint8 and w = byte - filter_zp (in [-255, 255]; int16
 * inside the kernels, whose products with int8 inputs stay exact): the driver runs uint8
 * DEPTHWISE_CONV_2D on these kernels with the input flipped to int8 (gemm_drivers.c).
 */
#ifndef PE_QS8_DWCONV_H
#define PE_QS8_DWCONV_H

#include <stddef.h>
#include <stdint.h>

/* One output row of a depthwise conv with depth multiplier 1. */
typedef struct {
  const int8_t *input;    /* image of this batch: [in_h][in_w][channels] */
  int32_t in_h, in_w, channels;
  int32_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  const int8_t *filter;   /* [kh][kw][channels] */
  const int32_t *bias;    /* [channels] or NULL */
  const int32_t *mult, *shift;  /* [channels] */
  int32_t input_offset, output_offset, act_min, act_max;
  int32_t filter_u8, filter_zp; /* 1: uint8 filter, w = byte - filter_zp; 0: int8 filter (zp 0) */
} pe_qs8_dw_args;

/* Output row oy, pixels [ox0, ox1): writes out[(ox - ox0) * channels + c]. */
typedef void (*pe_qs8_dw_fn)(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);

void pe_qs8_dw_row__scalar(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);
void pe_qs8_dw_row__avx2(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);
void pe_qs8_dw_row__avx512(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);
/* the same with vpdpwssd (AVX-512 VNNI) */
void pe_qs8_dw_row__avx512vnni(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);
void pe_qs8_dw_row__neon(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);
/* Cortex-M DSP (SMLABB/SMLATT on int16 pairs, 4 channels at a time) */
/* Cortex-M Helium (MVE): 8 channels at a time, int16 widening loads, VMULLB/VMULLT */
void pe_qs8_dw_row__mve(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);
void pe_qs8_dw_row__dsp(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out);

#endif
