/* int8 GEMM microkernel, AArch64 dot product (SDOT, ARMv8.2 +dotprod; Cortex-A76, the Pi 5):
 * 4 rows x 16 channels over the packed N16K4 layout (qs8_gemm.h), whose weight vectors are
 * exactly SDOT's operand: 4 channels x 4 k in each 16 bytes. The panel's uint8 a = x + 128 is
 * flipped back to the int8 x (SDOT is signed x signed); sum_k w * a = sum_k w * x + 128 * sum_k w,
 * the second term from the layout's packed wsum (init + 128 * wsum, once per tile: nothing of it
 * in the k loop). The block's wsum entries lie between its init and mult entries, at
 * init + (mult - init) / 2 (qs8_gemm.h). Every sum is exact int32 with wrap-around, as TFLite's
 * accumulator. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_gemm.h"

static inline uint32_t ld32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

void pe_qs8_gemm_4x16c4__neondot(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                 const int8_t *w, const int32_t *init, const int32_t *mult,
                                 const int32_t *shift, int32_t output_offset, int32_t act_min,
                                 int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd) {
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const int8x16_t flip = vdupq_n_s8((int8_t)0x80);
  const uint8_t *a0 = a, *a1 = mr > 1 ? a0 + a_stride : a0, *a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t *a3 = mr > 3 ? a2 + a_stride : a2;
  /* accumulators named, not arrayed: an array of 16 vectors is spilled to the stack by GCC */
  int32x4_t c00 = vdupq_n_s32(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  int32x4_t c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
  size_t k = 0;
#define PE_STEP(x0, x1, x2, x3, g, wp) \
  { \
    const int8x16_t w0 = vld1q_s8(wp), w1 = vld1q_s8((wp) + 16), w2 = vld1q_s8((wp) + 32), w3 = vld1q_s8((wp) + 48); \
    c00 = vdotq_laneq_s32(c00, w0, x0, g); c01 = vdotq_laneq_s32(c01, w1, x0, g); c02 = vdotq_laneq_s32(c02, w2, x0, g); c03 = vdotq_laneq_s32(c03, w3, x0, g); \
    c10 = vdotq_laneq_s32(c10, w0, x1, g); c11 = vdotq_laneq_s32(c11, w1, x1, g); c12 = vdotq_laneq_s32(c12, w2, x1, g); c13 = vdotq_laneq_s32(c13, w3, x1, g); \
    c20 = vdotq_laneq_s32(c20, w0, x2, g); c21 = vdotq_laneq_s32(c21, w1, x2, g); c22 = vdotq_laneq_s32(c22, w2, x2, g); c23 = vdotq_laneq_s32(c23, w3, x2, g); \
    c30 = vdotq_laneq_s32(c30, w0, x3, g); c31 = vdotq_laneq_s32(c31, w1, x3, g); c32 = vdotq_laneq_s32(c32, w2, x3, g); c33 = vdotq_laneq_s32(c33, w3, x3, g); \
  }
/* a compiler barrier between the k-groups: without it GCC hoists all 16 weight loads of a 16-k
   step ahead of the SDOTs, and 16 of them beside 16 accumulators and 4 activations spill
   accumulators to the stack in the loop (96 instructions a step instead of 87) */
#define PE_LOAD_FENCE __asm__ volatile("" ::: "memory");
  for (; k + 16 <= kp; k += 16, w += 256) {
    const int8x16_t x0 = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(a0 + k)), flip), x1 = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(a1 + k)), flip);
    const int8x16_t x2 = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(a2 + k)), flip), x3 = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(a3 + k)), flip);
    PE_STEP(x0, x1, x2, x3, 0, w + 0)
    PE_LOAD_FENCE
    PE_STEP(x0, x1, x2, x3, 1, w + 64)
    PE_LOAD_FENCE
    PE_STEP(x0, x1, x2, x3, 2, w + 128)
    PE_LOAD_FENCE
    PE_STEP(x0, x1, x2, x3, 3, w + 192)
  }
  for (; k < kp; k += 4, w += 64) {
    const int8x16_t x0 = veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(ld32(a0 + k))), flip), x1 = veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(ld32(a1 + k))), flip);
    const int8x16_t x2 = veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(ld32(a2 + k))), flip), x3 = veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(ld32(a3 + k))), flip);
    PE_STEP(x0, x1, x2, x3, 0, w)
  }
#undef PE_STEP
#undef PE_LOAD_FENCE
  {
    /* init + 128 * wsum (mod 2^32) = bias + input_offset * wsum */
    const int32_t *wsum = init + (mult - init) / 2;
    const int32x4_t b0 = vaddq_s32(vld1q_s32(init), vshlq_n_s32(vld1q_s32(wsum), 7));
    const int32x4_t b1 = vaddq_s32(vld1q_s32(init + 4), vshlq_n_s32(vld1q_s32(wsum + 4), 7));
    const int32x4_t b2 = vaddq_s32(vld1q_s32(init + 8), vshlq_n_s32(vld1q_s32(wsum + 8), 7));
    const int32x4_t b3 = vaddq_s32(vld1q_s32(init + 12), vshlq_n_s32(vld1q_s32(wsum + 12), 7));
#define PE_RADD(r) vdupq_n_s32(rowadd != NULL && mr > (r) ? rowadd[r] : 0)
    const int32x4_t ra0 = PE_RADD(0), ra1 = PE_RADD(1), ra2 = PE_RADD(2), ra3 = PE_RADD(3);
#undef PE_RADD
    const int32x4_t s0[4] = {vaddq_s32(vaddq_s32(b0, ra0), c00), vaddq_s32(vaddq_s32(b1, ra0), c01), vaddq_s32(vaddq_s32(b2, ra0), c02), vaddq_s32(vaddq_s32(b3, ra0), c03)};
    const int32x4_t s1[4] = {vaddq_s32(vaddq_s32(b0, ra1), c10), vaddq_s32(vaddq_s32(b1, ra1), c11), vaddq_s32(vaddq_s32(b2, ra1), c12), vaddq_s32(vaddq_s32(b3, ra1), c13)};
    const int32x4_t s2[4] = {vaddq_s32(vaddq_s32(b0, ra2), c20), vaddq_s32(vaddq_s32(b1, ra2), c21), vaddq_s32(vaddq_s32(b2, ra2), c22), vaddq_s32(vaddq_s32(b3, ra2), c23)};
    const int32x4_t s3[4] = {vaddq_s32(vaddq_s32(b0, ra3), c30), vaddq_s32(vaddq_s32(b1, ra3), c31), vaddq_s32(vaddq_s32(b2, ra3), c32), vaddq_s32(vaddq_s32(b3, ra3), c33)};
    pe_requant16_store_neon(c, nc, s0, mult, shift, voff, vmin, vmax);
    if (mr > 1) pe_requant16_store_neon(c + c_stride, nc, s1, mult, shift, voff, vmin, vmax);
    if (mr > 2) pe_requant16_store_neon(c + 2 * c_stride, nc, s2, mult, shift, voff, vmin, vmax);
    if (mr > 3) pe_requant16_store_neon(c + 3 * c_stride, nc, s3, mult, shift, voff, vmin, vmax);
  }
}
