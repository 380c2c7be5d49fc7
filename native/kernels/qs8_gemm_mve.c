/* int8 GEMM microkernel for Cortex-M Helium (MVE, Armv8.1-M: Cortex-M55/M85) over the
 * PE_LAYOUT_QS8_GEMM_N16K4 layout (qs8_gemm.h), bit-identical to pe_qs8_gemm_1x16c4__scalar.
 *
 * One channel at a time for up to 4 rows: a byte gather (VLDRB with offsets 0-3, 64-67, 128-131,
 * 192-195) takes the channel's 16 weights of 4 consecutive k-groups, the rows' 16 panel bytes are
 * flipped back to int8 (x = a ^ 0x80) and VMLADAVA sums the 16 exact products into each row's
 * int32 accumulator; VADDVA sums the weights, so that acc = init + 128 * sum(w) + sum(w * x)
 * = init + sum(w * a), the scalar twin's sum (mod 2^32). The last k-groups (kp not a multiple of
 * 16) are loaded under a tail predicate (VCTP), zeroing the weights there. Only the nc channels
 * stored are computed; the rows' results are requantized as one vector and stored with a byte
 * scatter (row r at r * c_stride). Built on M-profile
 * cores with integer MVE only (PE_MVE_KERNELS); elsewhere this file is empty. */
#include "pe_kernel.h"

#if PE_MVE_KERNELS
#include <arm_mve.h>

#include "qs8_gemm.h"

/* TFLite's requantization of 4 lanes with one channel's multiplier (>= 0) and shift, exactly as
   pe_conv_requant32: VQRDMULH is gemmlowp's rounding doubling high multiply bit for bit; VRSHL
   rounds ties up, so negative values first move down by one when there is a right shift (the
   NEON kernels' pe_requant_neon.h does the same); the left shift wraps (VSHL). */
static inline int32x4_t requant4(int32x4_t acc, int32_t mult, int32_t shift, int32x4_t vout, int32x4_t vmin,
                                 int32x4_t vmax) {
  const int32x4_t left = vdupq_n_s32(shift > 0 ? shift : 0), right = vdupq_n_s32(shift > 0 ? 0 : shift);
  int32x4_t x = vqrdmulhq_n_s32(vshlq_s32(acc, left), mult);
  x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31));
  x = vaddq_s32(vrshlq_s32(x, right), vout);
  return vminq_s32(vmaxq_s32(x, vmin), vmax);
}

void pe_qs8_gemm_4x16c4__mve(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult, const int32_t *shift,
                             int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *c, size_t c_stride,
                             const int32_t *rowadd) {
  const uint8_t *a0 = a, *a1 = mr > 1 ? a0 + a_stride : a0, *a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t *a3 = mr > 3 ? a2 + a_stride : a2;
  static const uint8_t offs_[16] = {0, 1, 2, 3, 64, 65, 66, 67, 128, 129, 130, 131, 192, 193, 194, 195};
  const uint8x16_t offs = vld1q_u8(offs_), flip = vdupq_n_u8(0x80);
  const size_t kfull = kp & ~(size_t)15;
  const uint32x4_t rows = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)c_stride); /* row r's byte at r * c_stride */
  const mve_pred16_t store = vctp32q((uint32_t)mr);
  const int32x4_t vout = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  size_t n;
  for (n = 0; n < nc; ++n) {
    const int8_t *wn = w + 4 * n;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, ws = 0;
    size_t g;
    for (g = 0; g < kfull; g += 16) {
      const int8x16_t wv = vldrbq_gather_offset_s8(wn + 16 * g, offs);
      s0 = vmladavaq_s8(s0, wv, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a0 + g), flip)));
      s1 = vmladavaq_s8(s1, wv, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a1 + g), flip)));
      s2 = vmladavaq_s8(s2, wv, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a2 + g), flip)));
      s3 = vmladavaq_s8(s3, wv, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a3 + g), flip)));
      ws = vaddvaq_s8(ws, wv);
    }
    if (g < kp) {
      const mve_pred16_t p = vctp8q((uint32_t)(kp - g));
      const int8x16_t wv = vldrbq_gather_offset_z_s8(wn + 16 * g, offs, p);
      s0 = vmladavaq_s8(s0, wv, vreinterpretq_s8_u8(veorq_u8(vldrbq_z_u8(a0 + g, p), flip)));
      s1 = vmladavaq_s8(s1, wv, vreinterpretq_s8_u8(veorq_u8(vldrbq_z_u8(a1 + g, p), flip)));
      s2 = vmladavaq_s8(s2, wv, vreinterpretq_s8_u8(veorq_u8(vldrbq_z_u8(a2 + g, p), flip)));
      s3 = vmladavaq_s8(s3, wv, vreinterpretq_s8_u8(veorq_u8(vldrbq_z_u8(a3 + g, p), flip)));
      ws = vaddvaq_s8(ws, wv);
    }
    {
      /* the rows' sums as one vector: requantize and store them together */
      const int32_t base = (int32_t)((uint32_t)init[n] + 128u * (uint32_t)ws);
      int32x4_t acc = vdupq_n_s32((int32_t)((uint32_t)base + (uint32_t)s0));
      acc = vsetq_lane_s32((int32_t)((uint32_t)base + (uint32_t)s1), acc, 1);
      acc = vsetq_lane_s32((int32_t)((uint32_t)base + (uint32_t)s2), acc, 2);
      acc = vsetq_lane_s32((int32_t)((uint32_t)base + (uint32_t)s3), acc, 3);
      if (rowadd != NULL) { /* the uint8 weight zero point's per-row term (qs8_gemm.h) */
        int32_t ra[4] = {0, 0, 0, 0};
        size_t r;
        for (r = 0; r < mr && r < 4; ++r) ra[r] = rowadd[r];
        acc = vaddq_s32(acc, vld1q_s32(ra));
      }
      vstrbq_scatter_offset_p_s32(c + n, rows, requant4(acc, mult[n], shift[n], vout, vmin, vmax), store);
    }
  }
}
#else
typedef int pe_qs8_gemm_mve_unused; /* ISO C: a translation unit holds a declaration */
#endif
