/* One-input-channel depthwise convolution on Cortex-M Helium (MVE): 4 consecutive output pixels
 * of one channel in the int32 lanes, each tap's pixels (int16 rows of x + input_offset, zeros in
 * the padding, gathered with the stride) times the channel's weight as a scalar (VMLA by
 * scalar: 4 exact MACs an instruction), 4 channels per pass sharing each tap's pixel load. The 4
 * pixels of a channel are requantized as one vector and stored with a byte scatter (pixel i at
 * i * M). Contract and layout: qs8_dwconv_dm.h, bit-identical to pe_qs8_dwdm_row__scalar. Built
 * on M-profile cores with integer MVE only (PE_MVE_KERNELS); elsewhere this file is empty. */
#include "pe_kernel.h"

#if PE_MVE_KERNELS
#include <arm_mve.h>

#include "qs8_dwconv_dm.h"

/* The window's rows for output row oy as int16 (x + input_offset), zeros in the padding:
   row fy's element j is input column j - pad_w. */
static void fill_rows(const pe_qs8_dwdm_args *a, int32_t oy, int16_t *rows, int32_t lr) {
  const int16x8_t zero = vdupq_n_s16(0);
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
      const int8_t *src = a->input + (size_t)iy * a->in_w - a->pad_w;
      for (j = j0; j < j1; j += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(j1 - j));
        vstrhq_p_s16(d + j, vaddq_x_n_s16(vldrbq_z_s16(src + j, p), (int16_t)a->input_offset, p), p);
      }
    }
  }
}

/* TFLite's requantization of 4 lanes of one channel (pe_conv_requant32 exactly; see
   qs8_gemm_mve.c's requant4s for the rounding) */
static inline int32x4_t requant4s(int32x4_t acc, int32_t mult, int32_t shift, int32_t output_offset,
                                  int32x4_t vmin, int32x4_t vmax) {
  int32x4_t x;
  if (shift > 0) {
    x = vqrdmulhq_n_s32(vshlq_r_s32(acc, shift), mult);
  } else {
    x = vqrdmulhq_n_s32(acc, mult);
    if (shift < 0) x = vrshlq_n_s32(vqaddq_s32(x, vshrq_n_s32(x, 31)), shift);
  }
  return vminq_s32(vmaxq_s32(vaddq_n_s32(x, output_offset), vmin), vmax);
}

#define PE_DWDM_MVE_TAPS 128 /* taps of the offset table on the stack; larger filters compute them */

/* Channels c0 .. c0 + 3 of 4 pixels at `base`: the weights walk the layout's pairs (tap 2k at
   the low int16 of pair k's word, tap 2k + 1 at the high), the pixels of tap t at base + toff[t]
   (toff[taps] is 0 for an odd count: that tap's weights are 0). */
static inline void block4(const int16_t *base, const int32_t *toff, const int16_t *wp, int32_t npairs, int32_t mp,
                          const uint32x4_t pix, int32x4_t *s) {
  int32x4_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
  int32_t k;
  for (k = npairs; k != 0; --k, toff += 2, wp += 2 * mp) {
    const int32x4_t x0 = vldrhq_gather_shifted_offset_s32(base + toff[0], pix);
    const int32x4_t x1 = vldrhq_gather_shifted_offset_s32(base + toff[1], pix);
    s0 = vmlaq_n_s32(s0, x0, wp[0]);
    s1 = vmlaq_n_s32(s1, x0, wp[2]);
    s2 = vmlaq_n_s32(s2, x0, wp[4]);
    s3 = vmlaq_n_s32(s3, x0, wp[6]);
    s0 = vmlaq_n_s32(s0, x1, wp[1]);
    s1 = vmlaq_n_s32(s1, x1, wp[3]);
    s2 = vmlaq_n_s32(s2, x1, wp[5]);
    s3 = vmlaq_n_s32(s3, x1, wp[7]);
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}

void pe_qs8_dwdm_row__mve(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch) {
  const int32_t m = a->channels, mp = (m + PE_DWDM_CB - 1) / PE_DWDM_CB * PE_DWDM_CB;
  const int32_t taps = a->kh * a->kw, npairs = (taps + 1) / 2;
  const int32_t lr = pe_qs8_dwdm_row_len(a->out_w, a->kw, a->stride_w, a->dilation_w);
  int16_t *rows = (int16_t *)scratch;
  const int32_t *init = a->packed;
  /* the weight of tap t, channel c: int16 2 * (t / 2 * mp + c) + t % 2 (little-endian pairs) */
  const int16_t *w16 = (const int16_t *)(a->packed + mp);
  const uint32x4_t pix = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)a->stride_w); /* pixel i's column */
  const uint32x4_t outs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)m);          /* pixel i's byte */
  const int32x4_t vmin = vdupq_n_s32(a->act_min), vmax = vdupq_n_s32(a->act_max);
  int32_t toff[PE_DWDM_MVE_TAPS + 2];
  const int table = taps <= PE_DWDM_MVE_TAPS;
  int32_t p0, c0, t, fy, fx; /* PE_DWDM_MVE_TAPS is even: a run starts at a pair */
  fill_rows(a, oy, rows, lr);
  if (table) {
    for (t = 0, fy = 0; fy < a->kh; ++fy)
      for (fx = 0; fx < a->kw; ++fx) toff[t++] = fy * lr + fx * a->dilation_w;
    toff[t] = 0;
  }
  for (p0 = 0; p0 < a->out_w; p0 += 4) {
    const mve_pred16_t store = vctp32q((uint32_t)(a->out_w - p0));
    const int16_t *base = rows + (size_t)p0 * a->stride_w;
    int8_t *o = out + (size_t)p0 * m;
    for (c0 = 0; c0 < m; c0 += 4) {
      int32x4_t s[4];
      s[0] = vdupq_n_s32(init[c0]);
      s[1] = vdupq_n_s32(init[c0 + 1]);
      s[2] = vdupq_n_s32(init[c0 + 2]);
      s[3] = vdupq_n_s32(init[c0 + 3]);
      if (table) {
        block4(base, toff, w16 + 2 * c0, npairs, mp, pix, s);
      } else { /* more taps than the table: it is refilled for each run of PE_DWDM_MVE_TAPS taps */
        int32_t t0;
        for (t0 = 0; t0 < taps; t0 += PE_DWDM_MVE_TAPS) {
          const int32_t n = taps - t0 < PE_DWDM_MVE_TAPS ? taps - t0 : PE_DWDM_MVE_TAPS;
          for (t = 0; t < n; ++t)
            toff[t] = (t0 + t) / a->kw * lr + (t0 + t) % a->kw * a->dilation_w;
          toff[n] = 0;
          block4(base, toff, w16 + 2 * c0 + (size_t)t0 * mp, (n + 1) / 2, mp, pix, s);
        }
      }
      /* channels past m: their weights and init are 0, and nothing is stored */
      vstrbq_scatter_offset_p_s32(o + c0, outs,
                                  requant4s(s[0], a->mult[c0], a->shift[c0], a->output_offset, vmin, vmax), store);
      if (c0 + 1 < m)
        vstrbq_scatter_offset_p_s32(o + c0 + 1, outs,
                                    requant4s(s[1], a->mult[c0 + 1], a->shift[c0 + 1], a->output_offset, vmin, vmax),
                                    store);
      if (c0 + 2 < m)
        vstrbq_scatter_offset_p_s32(o + c0 + 2, outs,
                                    requant4s(s[2], a->mult[c0 + 2], a->shift[c0 + 2], a->output_offset, vmin, vmax),
                                    store);
      if (c0 + 3 < m)
        vstrbq_scatter_offset_p_s32(o + c0 + 3, outs,
                                    requant4s(s[3], a->mult[c0 + 3], a->shift[c0 + 3], a->output_offset, vmin, vmax),
                                    store);
    }
  }
}
#else
typedef int pe_qs8_dwdm_mve_unused; /* ISO C: a translation unit holds a declaration */
#endif
