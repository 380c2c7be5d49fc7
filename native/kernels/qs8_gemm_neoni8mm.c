/* int8 GEMM microkernel, AArch64 i8mm (ARMv8.6 / +i8mm): 4 rows x 16 channels over the packed
 * N16K4 layout (qs8_gemm.h) with SUDOT (signed weights x unsigned activations, exact int32),
 * which takes the panel's uint8 a = x + 128 as it is: the layout's init term already undoes the
 * 128, so no correction is summed (cf. the SDOT kernel). The weight vectors (4 channels x 4 k)
 * are SUDOT's signed operand; the activations' 32-bit lanes are broadcast by the lane form. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_gemm.h"

static inline uint32_t ld32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

void pe_qs8_gemm_4x16c4__neoni8mm(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                  const int8_t *w, const int32_t *init, const int32_t *mult,
                                  const int32_t *shift, int32_t output_offset, int32_t act_min,
                                  int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd) {
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const uint8_t *a0 = a, *a1 = mr > 1 ? a0 + a_stride : a0, *a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t *a3 = mr > 3 ? a2 + a_stride : a2;
  /* accumulators named, not arrayed: an array of 16 vectors is spilled to the stack by GCC */
  int32x4_t c00 = vld1q_s32(init), c01 = vld1q_s32(init + 4), c02 = vld1q_s32(init + 8), c03 = vld1q_s32(init + 12);
  int32x4_t c10 = c00, c11 = c01, c12 = c02, c13 = c03, c20 = c00, c21 = c01, c22 = c02, c23 = c03;
  int32x4_t c30 = c00, c31 = c01, c32 = c02, c33 = c03;
  size_t k = 0;
#define PE_STEP(x0, x1, x2, x3, g, wp) \
  { \
    const int8x16_t w0 = vld1q_s8(wp), w1 = vld1q_s8((wp) + 16), w2 = vld1q_s8((wp) + 32), w3 = vld1q_s8((wp) + 48); \
    c00 = vsudotq_laneq_s32(c00, w0, x0, g); c01 = vsudotq_laneq_s32(c01, w1, x0, g); c02 = vsudotq_laneq_s32(c02, w2, x0, g); c03 = vsudotq_laneq_s32(c03, w3, x0, g); \
    c10 = vsudotq_laneq_s32(c10, w0, x1, g); c11 = vsudotq_laneq_s32(c11, w1, x1, g); c12 = vsudotq_laneq_s32(c12, w2, x1, g); c13 = vsudotq_laneq_s32(c13, w3, x1, g); \
    c20 = vsudotq_laneq_s32(c20, w0, x2, g); c21 = vsudotq_laneq_s32(c21, w1, x2, g); c22 = vsudotq_laneq_s32(c22, w2, x2, g); c23 = vsudotq_laneq_s32(c23, w3, x2, g); \
    c30 = vsudotq_laneq_s32(c30, w0, x3, g); c31 = vsudotq_laneq_s32(c31, w1, x3, g); c32 = vsudotq_laneq_s32(c32, w2, x3, g); c33 = vsudotq_laneq_s32(c33, w3, x3, g); \
  }
  for (; k + 16 <= kp; k += 16, w += 256) {
    const uint8x16_t x0 = vld1q_u8(a0 + k), x1 = vld1q_u8(a1 + k);
    const uint8x16_t x2 = vld1q_u8(a2 + k), x3 = vld1q_u8(a3 + k);
    PE_STEP(x0, x1, x2, x3, 0, w + 0)
    PE_STEP(x0, x1, x2, x3, 1, w + 64)
    PE_STEP(x0, x1, x2, x3, 2, w + 128)
    PE_STEP(x0, x1, x2, x3, 3, w + 192)
  }
  for (; k < kp; k += 4, w += 64) {
    const uint8x16_t x0 = vreinterpretq_u8_u32(vdupq_n_u32(ld32(a0 + k))), x1 = vreinterpretq_u8_u32(vdupq_n_u32(ld32(a1 + k)));
    const uint8x16_t x2 = vreinterpretq_u8_u32(vdupq_n_u32(ld32(a2 + k))), x3 = vreinterpretq_u8_u32(vdupq_n_u32(ld32(a3 + k)));
    PE_STEP(x0, x1, x2, x3, 0, w)
  }
#undef PE_STEP
  {
#define PE_RADD(r) vdupq_n_s32(rowadd != NULL && mr > (r) ? rowadd[r] : 0)
    const int32x4_t ra0 = PE_RADD(0), ra1 = PE_RADD(1), ra2 = PE_RADD(2), ra3 = PE_RADD(3);
#undef PE_RADD
    const int32x4_t s0[4] = {vaddq_s32(c00, ra0), vaddq_s32(c01, ra0), vaddq_s32(c02, ra0), vaddq_s32(c03, ra0)};
    const int32x4_t s1[4] = {vaddq_s32(c10, ra1), vaddq_s32(c11, ra1), vaddq_s32(c12, ra1), vaddq_s32(c13, ra1)};
    const int32x4_t s2[4] = {vaddq_s32(c20, ra2), vaddq_s32(c21, ra2), vaddq_s32(c22, ra2), vaddq_s32(c23, ra2)};
    const int32x4_t s3[4] = {vaddq_s32(c30, ra3), vaddq_s32(c31, ra3), vaddq_s32(c32, ra3), vaddq_s32(c33, ra3)};
    pe_requant16_store_neon(c, nc, s0, mult, shift, voff, vmin, vmax);
    if (mr > 1) pe_requant16_store_neon(c + c_stride, nc, s1, mult, shift, voff, vmin, vmax);
    if (mr > 2) pe_requant16_store_neon(c + 2 * c_stride, nc, s2, mult, shift, voff, vmin, vmax);
    if (mr > 3) pe_requant16_store_neon(c + 3 * c_stride, nc, s3, mult, shift, voff, vmin, vmax);
  }
}
