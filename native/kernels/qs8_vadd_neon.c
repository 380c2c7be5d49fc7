/* int8 ADD/SUB microkernel, NEON (AArch64, ARMv7): 16 elements per step as four vectors of 4
 * int32 lanes, the three rescales in exact vector form (pe_requant4_neon); the tail goes to the
 * scalar twin. */
#include "pe_requant_neon.h"
#include "qs8_vadd.h"

/* TFLite's ADD/SUB constants, broadcast once per call */
typedef struct {
  int32x4_t aoff, boff, ls, amul, ash, bmul, bsh, omul, osh, ooff, vmin, vmax, zero, imin, imax;
  int32_t sign;
} vadd_consts;

static inline vadd_consts vadd_setup(const pe_qs8_vadd_params *p) {
  vadd_consts c;
  c.aoff = vdupq_n_s32(p->a_offset);
  c.boff = vdupq_n_s32(p->b_offset);
  c.ls = vdupq_n_s32(p->left_shift);
  c.amul = vdupq_n_s32(p->a_mult);
  c.ash = vdupq_n_s32(p->a_shift);
  c.bmul = vdupq_n_s32(p->b_mult);
  c.bsh = vdupq_n_s32(p->b_shift);
  c.omul = vdupq_n_s32(p->out_mult);
  c.osh = vdupq_n_s32(p->out_shift);
  c.ooff = vdupq_n_s32(p->out_offset);
  c.vmin = vdupq_n_s32(p->act_min);
  c.vmax = vdupq_n_s32(p->act_max);
  c.zero = vdupq_n_s32(0);
  c.imin = vdupq_n_s32(INT32_MIN);
  c.imax = vdupq_n_s32(INT32_MAX);
  c.sign = p->sign;
  return c;
}

/* 16 lanes of offset and shifted inputs (four vectors each) -> the clamped output values */
static inline void vadd_lanes(const vadd_consts *c, const int32x4_t x[4], const int32x4_t y[4], int32x4_t r[4]) {
  int h;
  for (h = 0; h < 4; ++h) {
    const int32x4_t s1 = pe_requant4_neon(x[h], c->amul, c->ash, c->zero, c->imin, c->imax);
    const int32x4_t s2 = pe_requant4_neon(y[h], c->bmul, c->bsh, c->zero, c->imin, c->imax);
    const int32x4_t raw = c->sign > 0 ? vaddq_s32(s1, s2) : vsubq_s32(s1, s2);
    r[h] = pe_requant4_neon(raw, c->omul, c->osh, c->ooff, c->vmin, c->vmax);
  }
}

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
  const vadd_consts c = vadd_setup(p);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t x[4], y[4], r[4];
    load16(a + i * a_inc, a_inc, c.aoff, c.ls, x);
    load16(b + i * b_inc, b_inc, c.boff, c.ls, y);
    vadd_lanes(&c, x, y, r);
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
  const vadd_consts c = vadd_setup(p);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t x[4], y[4], r[4];
    load16_s16(a + i * a_inc, a_inc, c.aoff, c.ls, x);
    load16_s16(b + i * b_inc, b_inc, c.boff, c.ls, y);
    vadd_lanes(&c, x, y, r);
    /* r is clamped to [act_min, act_max], inside int16: the narrowing keeps it */
    vst1q_s16(out + i, vcombine_s16(vmovn_s32(r[0]), vmovn_s32(r[1])));
    vst1q_s16(out + i + 8, vcombine_s16(vmovn_s32(r[2]), vmovn_s32(r[3])));
  }
  if (i < n) pe_qs16_vadd__scalar(n - i, a + i * a_inc, a_inc, b + i * b_inc, b_inc, out + i, p);
}
