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
  const int32_t *init = a->packed, *pairs = a->packed + mp;
  int32_t ox, c, fy, fx;
  (void)scratch;
  for (ox = 0; ox < a->out_w; ++ox) {
    const int32_t x0 = ox * a->stride_w - a->pad_w;
    for (c = 0; c < m; ++c) {
      uint32_t acc = (uint32_t)init[c];
      for (fy = 0; fy < a->kh; ++fy) {
        const int32_t iy = y0 + fy * a->dilation_h;
        if (iy < 0 || iy >= a->in_h) continue;
        for (fx = 0; fx < a->kw; ++fx) {
          const int32_t ix = x0 + fx * a->dilation_w, t = fy * a->kw + fx;
          const uint32_t pair = (uint32_t)pairs[(size_t)(t / 2) * mp + c];
          const int32_t wv = (int16_t)(uint16_t)(t & 1 ? pair >> 16 : pair & 0xFFFFu);
          if (ix < 0 || ix >= a->in_w) continue;
          acc += (uint32_t)(((int32_t)a->input[(size_t)iy * a->in_w + ix] + a->input_offset) * wv);
        }
      }
      out[(size_t)ox * m + c] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, 0, a->mult[c], a->shift[c],
                                                          a->output_offset, a->act_min, a->act_max);
    }
  }
}
