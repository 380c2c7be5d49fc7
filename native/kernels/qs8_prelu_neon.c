/* int8 PRELU microkernel, NEON (AArch64, ARMv7): 16 elements per step in four vectors of 4 int32
 * lanes, both branches requantized exactly (pe_requant4_neon) and selected by the sign of v; the
 * last n % 16 elements through the scalar twin. The requantized value is clamped to [-512, 512]
 * before the output offset is added: the same result as the scalar kernel's unwrapped sum, since
 * |output_offset| <= 128 (contract in qs8_prelu.h). */
#include "pe_requant_neon.h"
#include "qs8_prelu.h"

void pe_qs8_prelu_16x__neon(size_t n, const int8_t *x, const int8_t *alpha, int8_t *out,
                            const pe_prelu_params *p) {
  const int16x8_t ioff = vdupq_n_s16((int16_t)p->input_offset), aoff = vdupq_n_s16((int16_t)p->alpha_offset);
  const int32x4_t m1 = vdupq_n_s32(p->identity_multiplier), s1 = vdupq_n_s32(p->identity_shift);
  const int32x4_t m2 = vdupq_n_s32(p->alpha_multiplier), s2 = vdupq_n_s32(p->alpha_shift);
  const int32x4_t zero = vdupq_n_s32(0), lo = vdupq_n_s32(-512), hi = vdupq_n_s32(512);
  const int32x4_t ooff = vdupq_n_s32(p->output_offset), qmin = vdupq_n_s32(-128), qmax = vdupq_n_s32(127);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int8x16_t xb = vld1q_s8(x + i), ab = vld1q_s8(alpha + i);
    /* |v|, |a| <= 255: int16, and their product int32 (SMULL) */
    const int16x8_t v16[2] = {vaddq_s16(vmovl_s8(vget_low_s8(xb)), ioff), vaddq_s16(vmovl_s8(vget_high_s8(xb)), ioff)};
    const int16x8_t a16[2] = {vaddq_s16(vmovl_s8(vget_low_s8(ab)), aoff), vaddq_s16(vmovl_s8(vget_high_s8(ab)), aoff)};
    int32x4_t r[4];
    int j;
    for (j = 0; j < 4; ++j) {
      const int16x4_t vh = j & 1 ? vget_high_s16(v16[j / 2]) : vget_low_s16(v16[j / 2]);
      const int16x4_t ah = j & 1 ? vget_high_s16(a16[j / 2]) : vget_low_s16(a16[j / 2]);
      const int32x4_t v = vmovl_s16(vh);
      const int32x4_t rp = pe_requant4_neon(v, m1, s1, zero, lo, hi);
      const int32x4_t rn = pe_requant4_neon(vmull_s16(vh, ah), m2, s2, zero, lo, hi);
      const int32x4_t q = vbslq_s32(vcltq_s32(v, zero), rn, rp);
      r[j] = vminq_s32(vmaxq_s32(vaddq_s32(q, ooff), qmin), qmax);
    }
    vst1q_s8(out + i, pe_pack16_s8_neon(r[0], r[1], r[2], r[3]));
  }
  if (i < n) pe_qs8_prelu__scalar(n - i, x + i, alpha + i, out + i, p);
}
