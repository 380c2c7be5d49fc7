/* int8 row sums on NEON (qs8_rowsum.h; AArch64 and ARMv7): 16 columns at a time, int16 partial
   sums over runs of up to 256 rows (exact), widened into the int32 sums. */
#include <arm_neon.h>

#include "qs8_rowsum.h"

#define ROWSUM_RUN 256

void pe_qs8_rowsum_16x__neon(size_t rows, size_t n, const int8_t *x, size_t stride, int32_t *acc) {
  size_t i = 0, r0, r;
  for (; i + 16 <= n; i += 16) {
    int32x4_t a0 = vld1q_s32(acc + i), a1 = vld1q_s32(acc + i + 4);
    int32x4_t a2 = vld1q_s32(acc + i + 8), a3 = vld1q_s32(acc + i + 12);
    for (r0 = 0; r0 < rows; r0 += ROWSUM_RUN) {
      const size_t r1 = rows - r0 < ROWSUM_RUN ? rows : r0 + ROWSUM_RUN;
      int16x8_t s0 = vdupq_n_s16(0), s1 = vdupq_n_s16(0);
      for (r = r0; r < r1; ++r) {
        const int8x16_t v = vld1q_s8(x + r * stride + i);
        s0 = vaddw_s8(s0, vget_low_s8(v));
        s1 = vaddw_s8(s1, vget_high_s8(v));
      }
      a0 = vaddw_s16(a0, vget_low_s16(s0));
      a1 = vaddw_s16(a1, vget_high_s16(s0));
      a2 = vaddw_s16(a2, vget_low_s16(s1));
      a3 = vaddw_s16(a3, vget_high_s16(s1));
    }
    vst1q_s32(acc + i, a0);
    vst1q_s32(acc + i + 4, a1);
    vst1q_s32(acc + i + 8, a2);
    vst1q_s32(acc + i + 12, a3);
  }
  if (i < n) pe_qs8_rowsum__scalar(rows, n - i, x + i, stride, acc + i);
}
