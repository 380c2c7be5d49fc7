/* int8 ADD/SUB microkernel, NEON (AArch64, ARMv7): 16 elements per step as four vectors of 4
 * int32 lanes, the three rescales in exact vector form (pe_requant4_neon); the tail goes to the
 * scalar twin. */
#include "pe_requant_neon.h"
#include "qs8_vadd.h"

/* 16 int8 (inc 1) or one broadcast value (inc 0) as four vectors of 4 int32 plus offset */
static inline void load16(const int8_t *p, size_t inc, int32x4_t off, int32x4_t ls, int32x4_t v[4]) {
  if (inc == 0) {
    v[0] = v[1] = v[2] = v[3] = vshlq_s32(vaddq_s32(vdupq_n_s32(*p), off), ls);
  } else {
    const int8x16_t x = vld1q_s8(p);
    const int16x8_t lo = vmovl_s8(vget_low_s8(x)), hi = vmovl_s8(vget_high_s8(x));
    v[0] = vshlq_s32(vaddq_s32(vmovl_s16(vget_low_s16(lo)), off), ls);
    v[1] = vshlq_s32(vaddq_s32(vmovl_s16(vget_high_s16(lo)), off), ls);
    v[2] = vshlq_s32(vaddq_s32(vmovl_s16(vget_low_s16(hi)), off), ls);
    v[3] = vshlq_s32(vaddq_s32(vmovl_s16(vget_high_s16(hi)), off), ls);
  }
}

void pe_qs8_vadd_16x__neon(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                           const pe_qs8_vadd_params *p) {
  const int32x4_t aoff = vdupq_n_s32(p->a_offset), boff = vdupq_n_s32(p->b_offset);
  const int32x4_t ls = vdupq_n_s32(p->left_shift);
  const int32x4_t amul = vdupq_n_s32(p->a_mult), ash = vdupq_n_s32(p->a_shift);
  const int32x4_t bmul = vdupq_n_s32(p->b_mult), bsh = vdupq_n_s32(p->b_shift);
  const int32x4_t omul = vdupq_n_s32(p->out_mult), osh = vdupq_n_s32(p->out_shift);
  const int32x4_t ooff = vdupq_n_s32(p->out_offset);
  const int32x4_t vmin = vdupq_n_s32(p->act_min), vmax = vdupq_n_s32(p->act_max);
  const int32x4_t zero = vdupq_n_s32(0), imin = vdupq_n_s32(INT32_MIN), imax = vdupq_n_s32(INT32_MAX);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t x[4], y[4], r[4];
    int h;
    load16(a + i * a_inc, a_inc, aoff, ls, x);
    load16(b + i * b_inc, b_inc, boff, ls, y);
    for (h = 0; h < 4; ++h) {
      const int32x4_t s1 = pe_requant4_neon(x[h], amul, ash, zero, imin, imax);
      const int32x4_t s2 = pe_requant4_neon(y[h], bmul, bsh, zero, imin, imax);
      const int32x4_t raw = p->sign > 0 ? vaddq_s32(s1, s2) : vsubq_s32(s1, s2);
      r[h] = pe_requant4_neon(raw, omul, osh, ooff, vmin, vmax);
    }
    vst1q_s8(out + i, pe_pack16_s8_neon(r[0], r[1], r[2], r[3]));
  }
  if (i < n) pe_qs8_vadd__scalar(n - i, a + i * a_inc, a_inc, b + i * b_inc, b_inc, out + i, p);
}

/* int16: 16 elements (two 8-lane loads) or one broadcast value as four vectors of 4 int32 */
static inline void load16_s16(const int16_t *p, size_t inc, int32x4_t off, int32x4_t ls, int32x4_t v[4]) {
  if (inc == 0) {
    v[0] = v[1] = v[2] = v[3] = vshlq_s32(vaddq_s32(vdupq_n_s32(*p), off), ls);
  } else {
    const int16x8_t lo = vld1q_s16(p), hi = vld1q_s16(p + 8);
    v[0] = vshlq_s32(vaddq_s32(vmovl_s16(vget_low_s16(lo)), off), ls);
    v[1] = vshlq_s32(vaddq_s32(vmovl_s16(vget_high_s16(lo)), off), ls);
    v[2] = vshlq_s32(vaddq_s32(vmovl_s16(vget_low_s16(hi)), off), ls);
    v[3] = vshlq_s32(vaddq_s32(vmovl_s16(vget_high_s16(hi)), off), ls);
  }
}

void pe_qs16_vadd_16x__neon(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc, int16_t *out,
                            const pe_qs8_vadd_params *p) {
  const int32x4_t aoff = vdupq_n_s32(p->a_offset), boff = vdupq_n_s32(p->b_offset);
  const int32x4_t ls = vdupq_n_s32(p->left_shift);
  const int32x4_t amul = vdupq_n_s32(p->a_mult), ash = vdupq_n_s32(p->a_shift);
  const int32x4_t bmul = vdupq_n_s32(p->b_mult), bsh = vdupq_n_s32(p->b_shift);
  const int32x4_t omul = vdupq_n_s32(p->out_mult), osh = vdupq_n_s32(p->out_shift);
  const int32x4_t ooff = vdupq_n_s32(p->out_offset);
  const int32x4_t vmin = vdupq_n_s32(p->act_min), vmax = vdupq_n_s32(p->act_max);
  const int32x4_t zero = vdupq_n_s32(0), imin = vdupq_n_s32(INT32_MIN), imax = vdupq_n_s32(INT32_MAX);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t x[4], y[4], r[4];
    int h;
    load16_s16(a + i * a_inc, a_inc, aoff, ls, x);
    load16_s16(b + i * b_inc, b_inc, boff, ls, y);
    for (h = 0; h < 4; ++h) {
      const int32x4_t s1 = pe_requant4_neon(x[h], amul, ash, zero, imin, imax);
      const int32x4_t s2 = pe_requant4_neon(y[h], bmul, bsh, zero, imin, imax);
      const int32x4_t raw = p->sign > 0 ? vaddq_s32(s1, s2) : vsubq_s32(s1, s2);
      r[h] = pe_requant4_neon(raw, omul, osh, ooff, vmin, vmax);
    }
    /* r is clamped to [act_min, act_max], inside int16: the narrowing keeps it */
    vst1q_s16(out + i, vcombine_s16(vmovn_s32(r[0]), vmovn_s32(r[1])));
    vst1q_s16(out + i + 8, vcombine_s16(vmovn_s32(r[2]), vmovn_s32(r[3])));
  }
  if (i < n) pe_qs16_vadd__scalar(n - i, a + i * a_inc, a_inc, b + i * b_inc, b_inc, out + i, p);
}
