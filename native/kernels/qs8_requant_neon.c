/* Requantize-and-store, NEON (AArch64, ARMv7): 16 lanes of pe_requant4_neon at a time, the tail
   through a padded copy. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_requant.h"

void pe_qs8_requant_16x__neon(size_t n, const int32_t *acc, const int32_t *mult, const int32_t *shift,
                              int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out) {
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t s[4];
    int j;
    for (j = 0; j < 4; ++j) s[j] = vld1q_s32(acc + i + 4 * j);
    pe_requant16_store_neon(out + i, 16, s, mult + i, shift + i, voff, vmin, vmax);
  }
  if (i < n) {
    int32_t a[16] = {0}, m[16] = {0}, sh[16] = {0};
    int32x4_t s[4];
    const size_t cnt = n - i;
    int j;
    memcpy(a, acc + i, cnt * 4);
    memcpy(m, mult + i, cnt * 4);
    memcpy(sh, shift + i, cnt * 4);
    for (j = 0; j < 4; ++j) s[j] = vld1q_s32(a + 4 * j);
    pe_requant16_store_neon(out + i, cnt, s, m, sh, voff, vmin, vmax);
  }
}
