/* What the one-input-channel depthwise kernels for NEON share (qs8_dwconv_dm_neon.c, and
 * qs8_dwconv_dm_neondot.c for AArch64 with the dot product). Included only by NEON files. */
#ifndef PE_QS8_DWCONV_DM_NEON_H
#define PE_QS8_DWCONV_DM_NEON_H

#if defined(__ARM_NEON)
#include <arm_neon.h>

/* 8 channels x 8 pixels (b[c]: channel c's pixels) -> 8 pixels x 8 channels (row[p]). */
static inline void pe_qs8_dwdm_transpose8x8_neon(const int8x8_t b[8], int8x8_t row[8]) {
  const int8x8x2_t t01 = vtrn_s8(b[0], b[1]), t23 = vtrn_s8(b[2], b[3]);
  const int8x8x2_t t45 = vtrn_s8(b[4], b[5]), t67 = vtrn_s8(b[6], b[7]);
  /* val[0]: even pixels, val[1]: odd pixels, two channels interleaved */
  const int16x4x2_t e03 = vtrn_s16(vreinterpret_s16_s8(t01.val[0]), vreinterpret_s16_s8(t23.val[0]));
  const int16x4x2_t o03 = vtrn_s16(vreinterpret_s16_s8(t01.val[1]), vreinterpret_s16_s8(t23.val[1]));
  const int16x4x2_t e47 = vtrn_s16(vreinterpret_s16_s8(t45.val[0]), vreinterpret_s16_s8(t67.val[0]));
  const int16x4x2_t o47 = vtrn_s16(vreinterpret_s16_s8(t45.val[1]), vreinterpret_s16_s8(t67.val[1]));
  /* e03.val[0]: pixels 0, 4 (channels 0-3); e03.val[1]: 2, 6; o03.val[0]: 1, 5; o03.val[1]: 3, 7 */
  const int32x2x2_t p04 = vtrn_s32(vreinterpret_s32_s16(e03.val[0]), vreinterpret_s32_s16(e47.val[0]));
  const int32x2x2_t p26 = vtrn_s32(vreinterpret_s32_s16(e03.val[1]), vreinterpret_s32_s16(e47.val[1]));
  const int32x2x2_t p15 = vtrn_s32(vreinterpret_s32_s16(o03.val[0]), vreinterpret_s32_s16(o47.val[0]));
  const int32x2x2_t p37 = vtrn_s32(vreinterpret_s32_s16(o03.val[1]), vreinterpret_s32_s16(o47.val[1]));
  row[0] = vreinterpret_s8_s32(p04.val[0]);
  row[4] = vreinterpret_s8_s32(p04.val[1]);
  row[2] = vreinterpret_s8_s32(p26.val[0]);
  row[6] = vreinterpret_s8_s32(p26.val[1]);
  row[1] = vreinterpret_s8_s32(p15.val[0]);
  row[5] = vreinterpret_s8_s32(p15.val[1]);
  row[3] = vreinterpret_s8_s32(p37.val[0]);
  row[7] = vreinterpret_s8_s32(p37.val[1]);
}

#endif /* __ARM_NEON */

#endif
