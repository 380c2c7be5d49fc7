/* One-input-channel depthwise convolution (qs8_dwconv_dm.h): the layout's packing, its scratch
 * size and the scalar twin of the row microkernels. */
#include <string.h>

#include "conv.h"
#include "qs8_dwconv_dm.h"

static int64_t round_up64(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

uint32_t pe_qs8_dwdm_packed_bytes(int32_t m, int32_t kh, int32_t kw) {
  int64_t pairs, bytes;
  if (m < 1 || kh < 1 || kw < 1 || m > (1 << 24) || kh > 4096 || kw > 4096) return 0;
  pairs = ((int64_t)kh * kw + 1) / 2;
  bytes = 4 * round_up64(m, PE_DWDM_CB) * (1 + pairs);
  return bytes > 0x7FFFFFFF ? 0u : (uint32_t)bytes;
}

void pe_qs8_dwdm_pack(int32_t m, int32_t kh, int32_t kw, const int8_t *w, const int32_t *bias, void *out) {
  const int32_t mp = (int32_t)round_up64(m, PE_DWDM_CB), taps = kh * kw, pairs = (taps + 1) / 2;
  int32_t *o = (int32_t *)out;
  int32_t c, k;
  memset(out, 0, pe_qs8_dwdm_packed_bytes(m, kh, kw));
  for (c = 0; c < m; ++c) o[c] = bias != NULL ? bias[c] : 0;
  for (k = 0; k < pairs; ++k)
    for (c = 0; c < m; ++c) {
      const uint32_t lo = (uint16_t)(int16_t)w[(size_t)(2 * k) * m + c];
      const uint32_t hi = 2 * k + 1 < taps ? (uint16_t)(int16_t)w[(size_t)(2 * k + 1) * m + c] : 0u;
      o[(size_t)(1 + k) * mp + c] = (int32_t)(lo | hi << 16);
    }
}

uint32_t pe_qs8_dwdm_scratch_bytes(int32_t out_w, int32_t kh, int32_t kw, int32_t stride_w, int32_t dilation_w,
                                   uint32_t threads) {
  int64_t rows, one;
  if (out_w < 1 || kh < 1 || kw < 1 || stride_w < 1 || dilation_w < 1) return 0;
  if (out_w > (1 << 24) || kh > 4096 || kw > 4096 || stride_w > (1 << 20) || dilation_w > (1 << 20)) return 0;
  if ((int64_t)(out_w + PE_DWDM_VMAX) * stride_w + (int64_t)kw * dilation_w > (1 << 26)) return 0;
  rows = round_up64((int64_t)kh * pe_qs8_dwdm_row_len(out_w, kw, stride_w, dilation_w) * 2, 64);
  /* rows | the tap pairs of one block of pixels | an output tile of 16 pixels x 8 channels */
  one = rows + ((int64_t)kh * kw + 1) / 2 * PE_DWDM_VMAX * 4 + PE_DWDM_VMAX * PE_DWDM_CB;
  one *= threads ? threads : 1u;
  return one > 0x7FFFFFFF ? 0u : (uint32_t)one;
}

void pe_qs8_dwdm_row__scalar(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch) {
  const int32_t m = a->channels, mp = (int32_t)round_up64(m, PE_DWDM_CB);
  const int32_t y0 = oy * a->stride_h - a->pad_h;
  const int32_t *init = a->packed;
  /* the weight of tap t, channel c: the low or high int16 of pair t / 2's word for c (the
     little-endian targets pyedge builds for: x86-64, Arm) */
  const int16_t *w16 = (const int16_t *)(a->packed + mp);
  int32_t ox, c, fy, fx, fy0 = 0, fy1 = a->kh;
  (void)scratch;
  while (fy0 < fy1 && y0 + fy0 * a->dilation_h < 0) ++fy0;
  while (fy1 > fy0 && y0 + (fy1 - 1) * a->dilation_h >= a->in_h) --fy1;
  for (ox = 0; ox < a->out_w; ++ox) {
    const int32_t x0 = ox * a->stride_w - a->pad_w;
    int32_t fx0 = 0, fx1 = a->kw;
    while (fx0 < fx1 && x0 + fx0 * a->dilation_w < 0) ++fx0;
    while (fx1 > fx0 && x0 + (fx1 - 1) * a->dilation_w >= a->in_w) --fx1;
    for (c = 0; c < m; ++c) {
      uint32_t acc = (uint32_t)init[c];
      for (fy = fy0; fy < fy1; ++fy) {
        const int8_t *xrow = a->input + (size_t)(y0 + fy * a->dilation_h) * a->in_w;
        for (fx = fx0; fx < fx1; ++fx) {
          const int32_t t = fy * a->kw + fx;
          const int32_t wv = w16[((size_t)(t >> 1) * mp + c) * 2 + (t & 1)];
          acc += (uint32_t)(((int32_t)xrow[x0 + fx * a->dilation_w] + a->input_offset) * wv);
        }
      }
      out[(size_t)ox * m + c] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, 0, a->mult[c], a->shift[c],
                                                          a->output_offset, a->act_min, a->act_max);
    }
  }
}
