/* TFLite's requantization, exactly, on NEON vectors (AArch64 and ARMv7): for every lane
 *   clamp(MultiplyByQuantizedMultiplier(acc, mult, shift) + output_offset, act_min, act_max)
 * as pe_mbqm (pe_kernel.h) computes it. SQRDMULH is gemmlowp's saturating rounding doubling
 * high multiply bit for bit: both are floor((ab + 2^30) / 2^31) for every product ab but
 * INT32_MIN * INT32_MIN, which both saturate to INT32_MAX (see pe_requant_x86.h). The rounding
 * right shift rounds ties away from zero (gemmlowp's RoundingDivideByPOT): SRSHL rounds ties up,
 * so negative values first move down by one (saturating: INT32_MIN has no remainder to round).
 * The left shift wraps in int32 (SSHL), as pe_shl32 does; the output offset is added with
 * wrap-around before the clamp. Included only by files compiled for NEON. */
#ifndef PE_REQUANT_NEON_H
#define PE_REQUANT_NEON_H

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>
#include <stddef.h>

static inline int32x4_t pe_requant4_neon(int32x4_t acc, int32x4_t mult, int32x4_t shift, int32x4_t out_off,
                                         int32x4_t vmin, int32x4_t vmax) {
  const int32x4_t zero = vdupq_n_s32(0);
  const int32x4_t left = vmaxq_s32(shift, zero), right = vminq_s32(shift, zero); /* right <= 0 */
  int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
  /* sign bit of x & right: x < 0 and a right shift to do */
  x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31));
  x = vaddq_s32(vrshlq_s32(x, right), out_off);
  return vminq_s32(vmaxq_s32(x, vmin), vmax);
}

/* Four vectors of 4 int32 (already clamped to int8) -> 16 int8 in order. */
static inline int8x16_t pe_pack16_s8_neon(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  const int16x8_t lo = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)), hi = vcombine_s16(vqmovn_s32(c), vqmovn_s32(d));
  return vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));
}

/* Store the first nc (1..16) bytes of v. */
static inline void pe_store_s8_neon(int8_t *c, int8x16_t v, size_t nc) {
  if (nc == 16) {
    vst1q_s8(c, v);
  } else {
    int8_t tmp[16];
    size_t i;
    vst1q_s8(tmp, v);
    for (i = 0; i < nc; ++i) c[i] = tmp[i];
  }
}

/* Requantize the 16 int32 sums of one GEMM tile row and store nc of them. */
static inline void pe_requant16_store_neon(int8_t *c, size_t nc, const int32x4_t s[4], const int32_t *mult,
                                           const int32_t *shift, int32x4_t voff, int32x4_t vmin, int32x4_t vmax) {
  int32x4_t r[4];
  int j;
  for (j = 0; j < 4; ++j)
    r[j] = pe_requant4_neon(s[j], vld1q_s32(mult + 4 * j), vld1q_s32(shift + 4 * j), voff, vmin, vmax);
  pe_store_s8_neon(c, pe_pack16_s8_neon(r[0], r[1], r[2], r[3]), nc);
}

#endif /* __ARM_NEON */

#endif
