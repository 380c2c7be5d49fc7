/* int8 GEMM microkernel, AArch64 i8mm (ARMv8.6 / +i8mm): 4 rows x 16 channels over the packed
 * N16K4 layout (qs8_gemm.h) with SUDOT (signed weights x unsigned activations, exact int32),
 * which takes the panel's uint8 a = x + 128 as it is: the layout's init term already undoes the
 * 128, so no correction is summed (cf. the SDOT kernel). The weight vectors (4 channels x 4 k)
 * are SUDOT's signed operand; the activations' 32-bit lanes are broadcast by the lane form. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_gemm.h"

#define MR 4

void pe_qs8_gemm_4x16c4__neoni8mm(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                  const int8_t *w, const int32_t *init, const int32_t *mult,
                                  const int32_t *shift, int32_t output_offset, int32_t act_min,
                                  int32_t act_max, int8_t *c, size_t c_stride) {
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const uint8_t *ar[MR];
  int32x4_t acc[MR][4];
  size_t k = 0, r;
  int j;
  for (r = 0; r < MR; ++r) ar[r] = a + (r < mr ? r : mr - 1) * a_stride;
  for (r = 0; r < MR; ++r)
    for (j = 0; j < 4; ++j) acc[r][j] = vld1q_s32(init + 4 * j);
  for (; k + 16 <= kp; k += 16, w += 256) {
    uint8x16_t x[MR];
    for (r = 0; r < MR; ++r) x[r] = vld1q_u8(ar[r] + k);
#define PE_SUDOT_STEP(g)                                                            \
  {                                                                                 \
    const int8x16_t w0 = vld1q_s8(w + 64 * (g)), w1 = vld1q_s8(w + 64 * (g) + 16);   \
    const int8x16_t w2 = vld1q_s8(w + 64 * (g) + 32), w3 = vld1q_s8(w + 64 * (g) + 48); \
    for (r = 0; r < MR; ++r) {                                                      \
      acc[r][0] = vsudotq_laneq_s32(acc[r][0], w0, x[r], g);                        \
      acc[r][1] = vsudotq_laneq_s32(acc[r][1], w1, x[r], g);                        \
      acc[r][2] = vsudotq_laneq_s32(acc[r][2], w2, x[r], g);                        \
      acc[r][3] = vsudotq_laneq_s32(acc[r][3], w3, x[r], g);                        \
    }                                                                               \
  }
    PE_SUDOT_STEP(0)
    PE_SUDOT_STEP(1)
    PE_SUDOT_STEP(2)
    PE_SUDOT_STEP(3)
#undef PE_SUDOT_STEP
  }
  for (; k < kp; k += 4, w += 64) {
    const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
    for (r = 0; r < MR; ++r) {
      uint32_t v;
      uint8x16_t x;
      memcpy(&v, ar[r] + k, 4);
      x = vreinterpretq_u8_u32(vdupq_n_u32(v));
      acc[r][0] = vsudotq_laneq_s32(acc[r][0], w0, x, 0);
      acc[r][1] = vsudotq_laneq_s32(acc[r][1], w1, x, 0);
      acc[r][2] = vsudotq_laneq_s32(acc[r][2], w2, x, 0);
      acc[r][3] = vsudotq_laneq_s32(acc[r][3], w3, x, 0);
    }
  }
  for (r = 0; r < mr; ++r, c += c_stride) pe_requant16_store_neon(c, nc, acc[r], mult, shift, voff, vmin, vmax);
}
