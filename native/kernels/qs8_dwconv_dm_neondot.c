/* One-input-channel depthwise convolution with the AArch64 dot product (SDOT, ARMv8.2
 * +dotprod; Cortex-A76, the Pi 5). Contract and layout: qs8_dwconv_dm.h.
 *
 * The taps of each filter row go in groups of four consecutive columns (the last group of a row
 * padded with zero weights). One SDOT lane adds four taps of one output pixel: a TBL gathers, for
 * four pixels, the four input bytes of the group each of them reads (x[s * p + 0..3] for stride
 * s), and the by-element form multiplies them by one channel's four weights, so each SDOT is 16
 * MACs (4 pixels x 4 taps) and a block of 8 pixels x 8 channels takes 16 per group. The weights
 * are regrouped from the layout's tap pairs for each 8-channel block, once per output row.
 *
 * The input bytes are multiplied as they are (int8 x int8, exact): the input offset is folded into
 * the start value, acc = init + input_offset * sum(w) + sum(w * x) over the taps of the row's valid
 * filter rows, the same sum modulo 2^32 as init + sum(w * (x + input_offset)); columns in the
 * padding hold the input zero point (-input_offset, an int8), whose term is 0 as the skipped
 * tap's is. Filter rows outside the input are left out of both sums. Dilated columns, strides
 * above 3 and filters of more than DWDM_DOT_GROUPS groups run the NEON kernel. Built for AArch64
 * with +dotprod only (native/sources.txt); chosen at run time when the CPU has it. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_dwconv_dm.h"
#include "qs8_dwconv_dm_neon.h"

#define DWDM_DOT_GROUPS 64

/* The window's rows for output row oy as int8, the input zero point in the padding; rows[fy]
   is left unfilled for a filter row outside the input. */
static void fill_rows8(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *rows, int32_t lr) {
  const int8_t zp = (int8_t)-a->input_offset;
  int32_t fy;
  for (fy = 0; fy < a->kh; ++fy) {
    int8_t *d = rows + (size_t)fy * lr;
    const int32_t iy = oy * a->stride_h - a->pad_h + fy * a->dilation_h;
    int32_t j0, j1;
    if (iy < 0 || iy >= a->in_h) continue;
    memset(d, zp, (size_t)lr);
    j0 = a->pad_w < lr ? a->pad_w : lr;
    j1 = (int64_t)a->pad_w + a->in_w < lr ? a->pad_w + a->in_w : lr;
    if (j1 > j0) memcpy(d + j0, a->input + (size_t)iy * a->in_w + (j0 - a->pad_w), (size_t)(j1 - j0));
  }
}

/* The weight of tap t, channel c, from the layout's pairs (channels >= m and taps >= kh * kw: 0). */
static inline int8_t wtap(const int32_t *wp, int32_t mp, int32_t taps, int32_t t, int32_t c) {
  uint32_t v;
  if (t >= taps) return 0;
  v = (uint32_t)wp[(size_t)(t / 2) * mp + c];
  return (int8_t)(t & 1 ? v >> 16 : v);
}

void pe_qs8_dwdm_row__neondot(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch) {
  const int32_t m = a->channels, mp = (m + PE_DWDM_CB - 1) / PE_DWDM_CB * PE_DWDM_CB;
  const int32_t taps = a->kh * a->kw, gpr = (a->kw + 3) / 4; /* groups per filter row */
  const int32_t lr = pe_qs8_dwdm_row_len(a->out_w, a->kw, a->stride_w, a->dilation_w);
  const int32_t s = a->stride_w;
  int8_t *rows = (int8_t *)scratch;
  int8_t *tile = (int8_t *)scratch + ((size_t)a->kh * lr * 2 + 63) / 64 * 64 +
                 (size_t)((taps + 1) / 2) * PE_DWDM_VMAX * 4; /* as the NEON kernel's */
  const int32_t *init = a->packed, *wp = a->packed + mp;
  const int32x4_t out_off = vdupq_n_s32(a->output_offset);
  const int32x4_t vmin = vdupq_n_s32(a->act_min), vmax = vdupq_n_s32(a->act_max);
  int8_t wq[DWDM_DOT_GROUPS * PE_DWDM_CB * 4]; /* group g: channels 0-7 x 4 taps */
  int32_t goff[DWDM_DOT_GROUPS];               /* group g's offset in rows (filter row, column) */
  int32_t fy0 = 0, fy1 = a->kh, ng, c0;
  int8x16_t idx;
  if (a->dilation_w != 1 || s < 1 || s > 3 || (int64_t)a->kh * gpr > DWDM_DOT_GROUPS) {
    pe_qs8_dwdm_row__neon(a, oy, out, scratch);
    return;
  }
  {
    const int32_t y0 = oy * a->stride_h - a->pad_h;
    int8_t ix[16];
    int32_t j;
    while (fy0 < fy1 && y0 + fy0 * a->dilation_h < 0) ++fy0;
    while (fy1 > fy0 && y0 + (fy1 - 1) * a->dilation_h >= a->in_h) --fy1;
    for (j = 0; j < 16; ++j) ix[j] = (int8_t)(s * (j / 4) + j % 4);
    idx = vld1q_s8(ix);
  }
  ng = (fy1 - fy0) * gpr;
  {
    int32_t g;
    for (g = 0; g < ng; ++g) goff[g] = (fy0 + g / gpr) * lr + (g % gpr) * 4;
  }
  fill_rows8(a, oy, rows, lr);
  for (c0 = 0; c0 < m; c0 += PE_DWDM_CB) {
    const int32_t cb = m - c0 < PE_DWDM_CB ? m - c0 : PE_DWDM_CB;
    int32x4_t start0, start1, mu[PE_DWDM_CB], sh[PE_DWDM_CB];
    int32_t g, j, p0;
    /* this block's weights in groups of four taps, and their sums per channel */
    if (a->kw % 2 == 0) { /* a group is two whole tap pairs (the second 0 past the row's end) */
      for (g = 0; g < ng; ++g) {
        const int32_t fy = fy0 + g / gpr, fx = (g % gpr) * 4, q = (fy * a->kw + fx) / 2;
        const int32_t *w0 = wp + (size_t)q * mp + c0;
        /* pair q of 8 channels: (tap 0, tap 1) per channel as int16, narrowed to 16 bytes */
        const int8x16_t pa = vcombine_s8(vmovn_s16(vld1q_s16((const int16_t *)w0)),
                                         vmovn_s16(vld1q_s16((const int16_t *)(w0 + 4))));
        int8x16_t pb = vdupq_n_s8(0);
        if (fx + 2 < a->kw)
          pb = vcombine_s8(vmovn_s16(vld1q_s16((const int16_t *)(w0 + mp))),
                           vmovn_s16(vld1q_s16((const int16_t *)(w0 + mp + 4))));
        vst1q_s8(wq + g * 32, vreinterpretq_s8_s16(vzip1q_s16(vreinterpretq_s16_s8(pa), vreinterpretq_s16_s8(pb))));
        vst1q_s8(wq + g * 32 + 16, vreinterpretq_s8_s16(vzip2q_s16(vreinterpretq_s16_s8(pa), vreinterpretq_s16_s8(pb))));
      }
    } else {
      for (g = 0; g < ng; ++g) {
        const int32_t fy = fy0 + g / gpr, fx = (g % gpr) * 4;
        int32_t c, k;
        for (c = 0; c < PE_DWDM_CB; ++c)
          for (k = 0; k < 4; ++k)
            wq[(g * PE_DWDM_CB + c) * 4 + k] = fx + k < a->kw ? wtap(wp, mp, taps, fy * a->kw + fx + k, c0 + c) : 0;
      }
    }
    {
      int32x4_t s0 = vdupq_n_s32(0), s1 = s0;
      const int8x16_t ones = vdupq_n_s8(1);
      for (g = 0; g < ng; ++g) {
        s0 = vdotq_s32(s0, vld1q_s8(wq + g * 32), ones);
        s1 = vdotq_s32(s1, vld1q_s8(wq + g * 32 + 16), ones);
      }
      start0 = vmlaq_n_s32(vld1q_s32(init + c0), s0, a->input_offset);
      start1 = vmlaq_n_s32(vld1q_s32(init + c0 + 4), s1, a->input_offset);
    }
    for (j = 0; j < PE_DWDM_CB; ++j) {
      mu[j] = vdupq_n_s32(j < cb ? a->mult[c0 + j] : 0);
      sh[j] = vdupq_n_s32(j < cb ? a->shift[c0 + j] : 0);
    }
    for (p0 = 0; p0 < a->out_w; p0 += 8) {
      const int32_t np = a->out_w - p0 < 8 ? a->out_w - p0 : 8;
      const int8_t *base = rows + (size_t)p0 * s;
      int32x4_t lo0 = vdupq_laneq_s32(start0, 0), lo1 = vdupq_laneq_s32(start0, 1);
      int32x4_t lo2 = vdupq_laneq_s32(start0, 2), lo3 = vdupq_laneq_s32(start0, 3);
      int32x4_t lo4 = vdupq_laneq_s32(start1, 0), lo5 = vdupq_laneq_s32(start1, 1);
      int32x4_t lo6 = vdupq_laneq_s32(start1, 2), lo7 = vdupq_laneq_s32(start1, 3);
      int32x4_t hi0 = lo0, hi1 = lo1, hi2 = lo2, hi3 = lo3, hi4 = lo4, hi5 = lo5, hi6 = lo6, hi7 = lo7;
      int32x4_t lo[PE_DWDM_CB], hi[PE_DWDM_CB];
      int8x8_t b[PE_DWDM_CB], row[8];
      int32_t p;
      for (g = 0; g < ng; ++g) {
        const int8_t *x = base + goff[g];
        const int8x16_t xa = vqtbl1q_s8(vld1q_s8(x), vreinterpretq_u8_s8(idx));         /* pixels 0-3 */
        const int8x16_t xb = vqtbl1q_s8(vld1q_s8(x + 4 * s), vreinterpretq_u8_s8(idx)); /* pixels 4-7 */
        const int8x16_t w03 = vld1q_s8(wq + g * 32), w47 = vld1q_s8(wq + g * 32 + 16);
        lo0 = vdotq_laneq_s32(lo0, xa, w03, 0);
        hi0 = vdotq_laneq_s32(hi0, xb, w03, 0);
        lo1 = vdotq_laneq_s32(lo1, xa, w03, 1);
        hi1 = vdotq_laneq_s32(hi1, xb, w03, 1);
        lo2 = vdotq_laneq_s32(lo2, xa, w03, 2);
        hi2 = vdotq_laneq_s32(hi2, xb, w03, 2);
        lo3 = vdotq_laneq_s32(lo3, xa, w03, 3);
        hi3 = vdotq_laneq_s32(hi3, xb, w03, 3);
        lo4 = vdotq_laneq_s32(lo4, xa, w47, 0);
        hi4 = vdotq_laneq_s32(hi4, xb, w47, 0);
        lo5 = vdotq_laneq_s32(lo5, xa, w47, 1);
        hi5 = vdotq_laneq_s32(hi5, xb, w47, 1);
        lo6 = vdotq_laneq_s32(lo6, xa, w47, 2);
        hi6 = vdotq_laneq_s32(hi6, xb, w47, 2);
        lo7 = vdotq_laneq_s32(lo7, xa, w47, 3);
        hi7 = vdotq_laneq_s32(hi7, xb, w47, 3);
      }
      lo[0] = lo0, lo[1] = lo1, lo[2] = lo2, lo[3] = lo3, lo[4] = lo4, lo[5] = lo5, lo[6] = lo6, lo[7] = lo7;
      hi[0] = hi0, hi[1] = hi1, hi[2] = hi2, hi[3] = hi3, hi[4] = hi4, hi[5] = hi5, hi[6] = hi6, hi[7] = hi7;
      for (j = 0; j < PE_DWDM_CB; ++j) {
        const int32x4_t rl = pe_requant4_neon(lo[j], mu[j], sh[j], out_off, vmin, vmax);
        const int32x4_t rh = pe_requant4_neon(hi[j], mu[j], sh[j], out_off, vmin, vmax);
        b[j] = vqmovn_s16(vcombine_s16(vqmovn_s32(rl), vqmovn_s32(rh)));
      }
      pe_qs8_dwdm_transpose8x8_neon(b, row);
      if (cb == PE_DWDM_CB) {
        for (p = 0; p < np; ++p) vst1_s8(out + (size_t)(p0 + p) * m + c0, row[p]);
      } else {
        for (p = 0; p < 8; ++p) vst1_s8(tile + 8 * p, row[p]);
        for (p = 0; p < np; ++p) memcpy(out + (size_t)(p0 + p) * m + c0, tile + 8 * p, (size_t)cb);
      }
    }
  }
}
