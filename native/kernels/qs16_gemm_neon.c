/* 16x8 GEMM, NEON (AArch64, ARMv7; contract and exactness bound in qs16_gemm.h): one row x 16
 * channels. Each 16 bytes of a k-group's weights widen (vmovl) to two channels x 4 k in int16;
 * smlal against the row's 4 activations adds one product per lane into one int32x4 per channel,
 * added across its lanes in int64 at a flush. */
#include <arm_neon.h>
#include <string.h>

#include "qs16_gemm.h"
#include "qs8_gemm.h"

void pe_qs16_gemm_1x16c4__neon(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                               int64_t *acc) {
  size_t r;
  for (r = 0; r < mr; ++r, a += a_stride, acc += PE_GEMM_NR) {
    const int8_t *wg = w;
    size_t g = 0, n;
    memset(acc, 0, PE_GEMM_NR * sizeof(int64_t));
    while (g < kp) {
      const size_t end = kp - g > PE_QS16_GEMM_FLUSH * PE_GEMM_KR ? g + PE_QS16_GEMM_FLUSH * PE_GEMM_KR : kp;
      int32x4_t c[PE_GEMM_NR];
      for (n = 0; n < PE_GEMM_NR; ++n) c[n] = vdupq_n_s32(0);
      for (; g < end; g += PE_GEMM_KR, wg += PE_GEMM_NR * PE_GEMM_KR) {
        const int16x4_t x = vld1_s16(a + g);
        for (n = 0; n < PE_GEMM_NR; n += 4) {
          const int8x16_t b = vld1q_s8(wg + n * PE_GEMM_KR);
          const int16x8_t lo = vmovl_s8(vget_low_s8(b)), hi = vmovl_s8(vget_high_s8(b));
          c[n] = vmlal_s16(c[n], vget_low_s16(lo), x);
          c[n + 1] = vmlal_s16(c[n + 1], vget_high_s16(lo), x);
          c[n + 2] = vmlal_s16(c[n + 2], vget_low_s16(hi), x);
          c[n + 3] = vmlal_s16(c[n + 3], vget_high_s16(hi), x);
        }
      }
      for (n = 0; n < PE_GEMM_NR; ++n) {
        const int64x2_t s = vpaddlq_s32(c[n]);
        acc[n] += vgetq_lane_s64(s, 0) + vgetq_lane_s64(s, 1);
      }
    }
  }
}
