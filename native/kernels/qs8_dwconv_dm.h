/* int8 depthwise convolution of ONE input channel with M = depth multiplier outputs
 * (DEPTHWISE_CONV_2D with input [N, H, W, 1] and filter [1, KH, KW, M]), and its packed
 * layout PE_LAYOUT_QS8_DWDM_PAIRS.
 *
 * First layers of audio and image models (micro_speech: 10x8 taps x 8 outputs; person
 * detection: 3x3 x 8) look like this. As a GEMM they have a tiny K (9 or 80) and the im2col fill
 * costs more than the multiply; the depth-1 input instead lets a vector hold consecutive output
 * PIXELS of one channel, read straight from the input row with unit or double stride:
 *
 *   for a pair of taps (t0, t1) and V consecutive pixels p, one int32 lane per pixel holds
 *   (x[t0](p) + input_offset) in its low and (x[t1](p) + input_offset) in its high int16, and
 *   one int16 multiply-add (vpmaddwd) against the channel's broadcast weight pair
 *   (w[t0][c] | w[t1][c] << 16) adds both taps' products to the pixel's int32 accumulator.
 *
 * Packed layout (int32 words; Mp = M rounded up to 8, P = ceil(KH * KW / 2) tap pairs):
 *   init[Mp]          bias (0 without one; 0 past M)
 *   pairs[P][Mp]      (uint16)w[2k][c] | (uint32)(uint16)w[2k + 1][c] << 16, taps in filter order
 *                     t = fy * KW + fx; the odd tap past the end and channels past M are 0
 * Multipliers and shifts stay the op's own inputs 3 and 4 ([M] each).
 *
 * Microkernel contract (one output row oy of one image): for every ox in [0, out_w) and c in
 * [0, M):
 *   acc = init[c] + sum over taps (fy, fx) inside the input of (x + input_offset) * w   (mod 2^32)
 *   out[ox * M + c] = clamp(mbqm(acc, mult[c], shift[c]) + output_offset, act_min, act_max)
 * Taps in the padding add nothing (TFLite's reference kernel skips them); results are
 * bit-identical to the scalar DEPTHWISE_CONV_2D kernel. The SIMD kernels use `scratch`
 * (pe_qs8_dwdm_scratch_bytes per thread, 64-byte aligned) for the window's rows as int16 with
 * the offset applied and zeros in the padding; the scalar twin needs none.
 */
#ifndef PE_QS8_DWCONV_DM_H
#define PE_QS8_DWCONV_DM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const int8_t *input; /* image of this batch: [in_h][in_w] */
  int32_t in_h, in_w, out_w, channels; /* channels: M */
  int32_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
  const int32_t *packed; /* init[Mp] | pairs[P][Mp] */
  const int32_t *mult, *shift; /* [M] */
  int32_t input_offset, output_offset, act_min, act_max;
} pe_qs8_dwdm_args;

typedef void (*pe_qs8_dwdm_fn)(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);

void pe_qs8_dwdm_row__scalar(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);
void pe_qs8_dwdm_row__avx2(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);
void pe_qs8_dwdm_row__avx512(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);
void pe_qs8_dwdm_row__neon(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);
/* AArch64 +dotprod: SDOT by element over groups of four taps of a filter row */
void pe_qs8_dwdm_row__neondot(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);
void pe_qs8_dwdm_row__avx512vnni(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);
/* Cortex-M Helium: 4 pixels x 4 channels a pass, VMLA by the scalar weight */
void pe_qs8_dwdm_row__mve(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch);

/* Channels per block of the layout and of the SIMD kernels' accumulators. */
#define PE_DWDM_CB 8
/* Pixels per vector of the widest kernel (AVX-512): the row buffers cover whole blocks. */
#define PE_DWDM_VMAX 16

/* Elements of one int16 row buffer, and where the SIMD kernels' scratch parts start: shared
   by the kernels and pe_qs8_dwdm_scratch_bytes. */
static inline int32_t pe_qs8_dwdm_row_len(int32_t out_w, int32_t kw, int32_t stride_w, int32_t dilation_w) {
  const int64_t n = (int64_t)(out_w + PE_DWDM_VMAX - 1) / PE_DWDM_VMAX * PE_DWDM_VMAX * stride_w +
                    (int64_t)(kw - 1) * dilation_w + 2 * PE_DWDM_VMAX;
  return (int32_t)((n + 31) / 32 * 32);
}

/* BEGIN CDEF */
/* Bytes of the PE_LAYOUT_QS8_DWDM_PAIRS layout for m channels and kh x kw taps. */
uint32_t pe_qs8_dwdm_packed_bytes(int32_t m, int32_t kh, int32_t kw);
/* Pack filter [kh][kw][m] and bias [m] (NULL: 0) into out (pe_qs8_dwdm_packed_bytes bytes). */
void pe_qs8_dwdm_pack(int32_t m, int32_t kh, int32_t kw, const int8_t *w, const int32_t *bias, void *out);
/* Scratch bytes of a DWDM-layout op for `threads` threads (0 when the sizes do not fit). */
uint32_t pe_qs8_dwdm_scratch_bytes(int32_t out_w, int32_t kh, int32_t kw, int32_t stride_w, int32_t dilation_w,
                                   uint32_t threads);
/* END CDEF */

#endif
