/* One-input-channel depthwise convolution on NEON (AArch64 and ARMv7): 8 output pixels per
 * int16 vector, each tap's pixels times the channel's weight by lane (SMLAL by element, exact
 * int16 x int16 products into int32), 8 channels per block. Contract and layout:
 * qs8_dwconv_dm.h (the weight pairs' int16 halves are the filter's int8 values). Built for NEON
 * only (native/sources.txt). */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_dwconv_dm.h"
#include "qs8_dwconv_dm_neon.h"

/* The window's rows for output row oy as int16 (x + input_offset), zeros in the padding. */
static void fill_rows(const pe_qs8_dwdm_args *a, int32_t oy, int16_t *rows, int32_t lr) {
  const int16x8_t off = vdupq_n_s16((int16_t)a->input_offset), zero = vdupq_n_s16(0);
  int32_t fy, j;
  for (fy = 0; fy < a->kh; ++fy) {
    int16_t *d = rows + (size_t)fy * lr;
    const int32_t iy = oy * a->stride_h - a->pad_h + fy * a->dilation_h;
    int32_t j0, j1;
    for (j = 0; j < lr; j += 8) vst1q_s16(d + j, zero);
    if (iy < 0 || iy >= a->in_h) continue;
    j0 = a->pad_w < lr ? a->pad_w : lr;
    j1 = (int64_t)a->pad_w + a->in_w < lr ? a->pad_w + a->in_w : lr;
    {
      const int8_t *src = a->input + (size_t)iy * a->in_w;
      for (j = j0; j + 8 <= j1; j += 8) vst1q_s16(d + j, vaddq_s16(vmovl_s8(vld1_s8(src + (j - a->pad_w))), off));
      for (; j < j1; ++j) d[j] = (int16_t)(src[j - a->pad_w] + a->input_offset);
    }
  }
}

/* The 8 pixels' values of one tap: base[i * stride]. */
static inline int16x8_t tap8(const int16_t *base, int32_t stride) {
  int16_t t[8];
  int i;
  switch (stride) {
    case 1: return vld1q_s16(base);
    case 2: return vld2q_s16(base).val[0];
    case 3: return vld3q_s16(base).val[0];
    case 4: return vld4q_s16(base).val[0];
    default:
      for (i = 0; i < 8; ++i) t[i] = base[(size_t)i * stride];
      return vld1q_s16(t);
  }
}

/* acc[c] += x * weight of (channel c, tap h) for the 8 channels: w4[q] holds channels 2q, 2q + 1,
   each as (tap 0, tap 1) of the pair; lanes are immediates. */
#define DWDM_MAC_C(c, q, lane)                                         \
  do {                                                                 \
    lo[c] = vmlal_lane_s16(lo[c], xl, w4[q], lane);                    \
    hi[c] = vmlal_lane_s16(hi[c], xh, w4[q], lane);                    \
  } while (0)
#define DWDM_MAC_TAP(h)                                                \
  do {                                                                 \
    DWDM_MAC_C(0, 0, 0 + (h));                                         \
    DWDM_MAC_C(1, 0, 2 + (h));                                         \
    DWDM_MAC_C(2, 1, 0 + (h));                                         \
    DWDM_MAC_C(3, 1, 2 + (h));                                         \
    DWDM_MAC_C(4, 2, 0 + (h));                                         \
    DWDM_MAC_C(5, 2, 2 + (h));                                         \
    DWDM_MAC_C(6, 3, 0 + (h));                                         \
    DWDM_MAC_C(7, 3, 2 + (h));                                         \
  } while (0)

void pe_qs8_dwdm_row__neon(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch) {
  const int32_t m = a->channels, mp = (m + PE_DWDM_CB - 1) / PE_DWDM_CB * PE_DWDM_CB;
  const int32_t taps = a->kh * a->kw, npairs = (taps + 1) / 2;
  const int32_t lr = pe_qs8_dwdm_row_len(a->out_w, a->kw, a->stride_w, a->dilation_w);
  const size_t rows_bytes = ((size_t)a->kh * lr * 2 + 63) / 64 * 64;
  int16_t *rows = (int16_t *)scratch;
  int16_t *pv = (int16_t *)((uint8_t *)scratch + rows_bytes); /* per pair: tap 0's 8 pixels, tap 1's */
  int8_t *tile = (int8_t *)scratch + rows_bytes + (size_t)npairs * PE_DWDM_VMAX * 4;
  const int32_t *init = a->packed, *wp = a->packed + mp;
  const int32x4_t out_off = vdupq_n_s32(a->output_offset);
  const int32x4_t vmin = vdupq_n_s32(a->act_min), vmax = vdupq_n_s32(a->act_max);
  int32_t p0;
  fill_rows(a, oy, rows, lr);
  for (p0 = 0; p0 < a->out_w; p0 += 8) {
    const int32_t np = a->out_w - p0 < 8 ? a->out_w - p0 : 8;
    int32_t k, fy = 0, fx = 0, c0;
    for (k = 0; k < npairs; ++k) {
      const int16_t *b0 = rows + (size_t)fy * lr + (size_t)fx * a->dilation_w + (size_t)p0 * a->stride_w;
      vst1q_s16(pv + (size_t)k * 16, tap8(b0, a->stride_w));
      if (++fx == a->kw) fx = 0, ++fy;
      if (2 * k + 1 < taps) {
        const int16_t *b1 = rows + (size_t)fy * lr + (size_t)fx * a->dilation_w + (size_t)p0 * a->stride_w;
        vst1q_s16(pv + (size_t)k * 16 + 8, tap8(b1, a->stride_w));
        if (++fx == a->kw) fx = 0, ++fy;
      } else {
        vst1q_s16(pv + (size_t)k * 16 + 8, vdupq_n_s16(0)); /* its weight is 0 too */
      }
    }
    for (c0 = 0; c0 < m; c0 += PE_DWDM_CB) {
      const int32_t cb = m - c0 < PE_DWDM_CB ? m - c0 : PE_DWDM_CB;
      int32x4_t lo[PE_DWDM_CB], hi[PE_DWDM_CB];
      int8x8_t b[PE_DWDM_CB];
      int8x8_t row[8];
      int32_t j, p;
      for (j = 0; j < PE_DWDM_CB; ++j) lo[j] = hi[j] = vdupq_n_s32(init[c0 + j]);
      for (k = 0; k < npairs; ++k) {
        /* channels c0..c0+7 of pair k: 8 words = 16 int16, (tap 0, tap 1) per channel */
        const int16_t *w16 = (const int16_t *)(wp + (size_t)k * mp + c0);
        const int16x8_t wa = vld1q_s16(w16), wb = vld1q_s16(w16 + 8);
        const int16x4_t w4[4] = {vget_low_s16(wa), vget_high_s16(wa), vget_low_s16(wb), vget_high_s16(wb)};
        int16x8_t x = vld1q_s16(pv + (size_t)k * 16);
        int16x4_t xl = vget_low_s16(x), xh = vget_high_s16(x);
        DWDM_MAC_TAP(0);
        x = vld1q_s16(pv + (size_t)k * 16 + 8);
        xl = vget_low_s16(x);
        xh = vget_high_s16(x);
        DWDM_MAC_TAP(1);
      }
      for (j = 0; j < PE_DWDM_CB; ++j) {
        if (j < cb) {
          const int32x4_t mu = vdupq_n_s32(a->mult[c0 + j]), sh = vdupq_n_s32(a->shift[c0 + j]);
          const int32x4_t rl = pe_requant4_neon(lo[j], mu, sh, out_off, vmin, vmax);
          const int32x4_t rh = pe_requant4_neon(hi[j], mu, sh, out_off, vmin, vmax);
          b[j] = vqmovn_s16(vcombine_s16(vqmovn_s32(rl), vqmovn_s32(rh)));
        } else {
          b[j] = vdup_n_s8(0);
        }
      }
      pe_qs8_dwdm_transpose8x8_neon(b, row); /* 8 channels x 8 pixels -> 8 pixels x 8 channels */
      if (cb == PE_DWDM_CB) {
        for (p = 0; p < np; ++p) vst1_s8(out + (size_t)(p0 + p) * m + c0, row[p]);
      } else {
        for (p = 0; p < 8; ++p) vst1_s8(tile + 8 * p, row[p]);
        for (p = 0; p < np; ++p) memcpy(out + (size_t)(p0 + p) * m + c0, tile + 8 * p, (size_t)cb);
      }
    }
  }
}
