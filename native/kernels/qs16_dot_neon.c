/* 16x8 window dot products, NEON (AArch64, ARMv7; contract and exactness bound in qs16_dot.h):
 * 8 elements per step, the int8 weights widened with vmovl, smlal into two int32x4 accumulators
 * per filter (one product per lane and step), the last elements of a run in int64. */
#include <arm_neon.h>

#include "qs16_dot.h"

static inline int64_t sum64(int32x4_t lo, int32x4_t hi) {
  const int64x2_t t = vaddq_s64(vpaddlq_s32(lo), vpaddlq_s32(hi));
  return vgetq_lane_s64(t, 0) + vgetq_lane_s64(t, 1);
}

void pe_qs16_dot_4c__neon(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                          size_t nc, int64_t *acc) {
  const int8_t *fs[4];
  const int32_t len = w->len;
  int32x4_t lo[4], hi[4];
  int64_t s[4] = {0, 0, 0, 0};
  int32_t r, q, i, steps = 0;
  size_t j;
  for (j = 0; j < 4; ++j) {
    fs[j] = f + (j < nc ? j : 0) * f_stride; /* missing filters repeat filter 0 */
    lo[j] = hi[j] = vdupq_n_s32(0);
  }
  for (r = 0; r < w->rows; ++r)
    for (q = 0; q < w->runs; ++q) {
      const int16_t *xr = x + (ptrdiff_t)r * w->in_row + (ptrdiff_t)q * w->in_run;
      const ptrdiff_t off = (ptrdiff_t)r * w->f_row + (ptrdiff_t)q * w->f_run;
      for (i = 0; i + 8 <= len; i += 8) {
        const int16x8_t xv = vld1q_s16(xr + i);
        const int16x4_t xl = vget_low_s16(xv), xh = vget_high_s16(xv);
        for (j = 0; j < 4; ++j) {
          const int16x8_t wv = vmovl_s8(vld1_s8(fs[j] + off + i));
          lo[j] = vmlal_s16(lo[j], vget_low_s16(wv), xl);
          hi[j] = vmlal_s16(hi[j], vget_high_s16(wv), xh);
        }
        if (++steps == PE_QS16_DOT_FLUSH) {
          for (j = 0; j < 4; ++j) {
            s[j] += sum64(lo[j], hi[j]);
            lo[j] = hi[j] = vdupq_n_s32(0);
          }
          steps = 0;
        }
      }
      for (; i < len; ++i)
        for (j = 0; j < 4; ++j) s[j] += (int32_t)fs[j][off + i] * (int32_t)xr[i];
    }
  for (j = 0; j < nc; ++j) acc[j] = s[j] + sum64(lo[j], hi[j]);
}

/* depthwise: 8 channels per step (smlal into two int32x4), the last channels in int64 */
void pe_qs16_dw_px__neon(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc) {
  size_t c = 0;
  int32_t r, k;
  for (; c + 8 <= nch; c += 8) {
    int32x4_t a[4];
    int64x2_t s[4];
    int32_t steps = 0, i;
    for (i = 0; i < 4; ++i) s[i] = vdupq_n_s64(0);
    a[0] = a[1] = vdupq_n_s32(0);
    for (r = 0; r < t->rows; ++r)
      for (k = 0; k < t->cols; ++k) {
        const int16x8_t xv = vld1q_s16(x + (ptrdiff_t)r * t->in_row + (ptrdiff_t)k * t->in_col + (ptrdiff_t)c);
        const int16x8_t wv = vmovl_s8(vld1_s8(f + (ptrdiff_t)r * t->f_row + (ptrdiff_t)k * t->f_col + (ptrdiff_t)c));
        a[0] = vmlal_s16(a[0], vget_low_s16(wv), vget_low_s16(xv));
        a[1] = vmlal_s16(a[1], vget_high_s16(wv), vget_high_s16(xv));
        if (++steps == PE_QS16_DOT_FLUSH) {
          s[0] = vaddw_s32(s[0], vget_low_s32(a[0]));
          s[1] = vaddw_s32(s[1], vget_high_s32(a[0]));
          s[2] = vaddw_s32(s[2], vget_low_s32(a[1]));
          s[3] = vaddw_s32(s[3], vget_high_s32(a[1]));
          a[0] = a[1] = vdupq_n_s32(0);
          steps = 0;
        }
      }
    s[0] = vaddw_s32(s[0], vget_low_s32(a[0]));
    s[1] = vaddw_s32(s[1], vget_high_s32(a[0]));
    s[2] = vaddw_s32(s[2], vget_low_s32(a[1]));
    s[3] = vaddw_s32(s[3], vget_high_s32(a[1]));
    for (i = 0; i < 4; ++i) vst1q_s64(acc + c + 2 * i, s[i]);
  }
  if (c < nch) pe_qs16_dw_px__scalar(t, x + c, f + c, nch - c, acc + c);
}
