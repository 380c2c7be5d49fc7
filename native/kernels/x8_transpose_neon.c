/* 1-byte TRANSPOSE on NEON (x8_transpose.h; AArch64 and ARMv7): the interleave of 2-4 planes
   (NCHW -> NHWC) with vst2q/vst3q/vst4q and its inverse (NHWC -> NCHW) with vld2q/vld3q/vld4q,
   16 pixels at a time; the remaining pixels and every other tile go to the scalar twin. */
#include <arm_neon.h>

#include "x8_transpose.h"

static size_t interleave(size_t rows, size_t c_n, const uint8_t *src, size_t s, uint8_t *dst) {
  size_t r = 0;
  switch (c_n) {
    case 2:
      for (; r + 16 <= rows; r += 16) {
        uint8x16x2_t v;
        v.val[0] = vld1q_u8(src + r);
        v.val[1] = vld1q_u8(src + s + r);
        vst2q_u8(dst + r * 2, v);
      }
      break;
    case 3:
      for (; r + 16 <= rows; r += 16) {
        uint8x16x3_t v;
        v.val[0] = vld1q_u8(src + r);
        v.val[1] = vld1q_u8(src + s + r);
        v.val[2] = vld1q_u8(src + 2 * s + r);
        vst3q_u8(dst + r * 3, v);
      }
      break;
    default:
      for (; r + 16 <= rows; r += 16) {
        uint8x16x4_t v;
        v.val[0] = vld1q_u8(src + r);
        v.val[1] = vld1q_u8(src + s + r);
        v.val[2] = vld1q_u8(src + 2 * s + r);
        v.val[3] = vld1q_u8(src + 3 * s + r);
        vst4q_u8(dst + r * 4, v);
      }
      break;
  }
  return r;
}

static size_t split(size_t cols, size_t c_n, const uint8_t *src, uint8_t *dst, size_t d) {
  size_t i = 0;
  switch (c_n) {
    case 2:
      for (; i + 16 <= cols; i += 16) {
        const uint8x16x2_t v = vld2q_u8(src + i * 2);
        vst1q_u8(dst + i, v.val[0]);
        vst1q_u8(dst + d + i, v.val[1]);
      }
      break;
    case 3:
      for (; i + 16 <= cols; i += 16) {
        const uint8x16x3_t v = vld3q_u8(src + i * 3);
        vst1q_u8(dst + i, v.val[0]);
        vst1q_u8(dst + d + i, v.val[1]);
        vst1q_u8(dst + 2 * d + i, v.val[2]);
      }
      break;
    default:
      for (; i + 16 <= cols; i += 16) {
        const uint8x16x4_t v = vld4q_u8(src + i * 4);
        vst1q_u8(dst + i, v.val[0]);
        vst1q_u8(dst + d + i, v.val[1]);
        vst1q_u8(dst + 2 * d + i, v.val[2]);
        vst1q_u8(dst + 3 * d + i, v.val[3]);
      }
      break;
  }
  return i;
}

void pe_x8_transpose__neon(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                           size_t dst_stride) {
  size_t k;
  if (cols >= 2 && cols <= 4 && dst_stride == cols) {
    k = interleave(rows, cols, src, src_stride, dst);
    pe_x8_transpose__scalar(rows - k, cols, src + k, src_stride, dst + k * dst_stride, dst_stride);
    return;
  }
  if (rows >= 2 && rows <= 4 && src_stride == rows) {
    k = split(cols, rows, src, dst, dst_stride);
    pe_x8_transpose__scalar(rows, cols - k, src + k * src_stride, src_stride, dst + k, dst_stride);
    return;
  }
  pe_x8_transpose__scalar(rows, cols, src, src_stride, dst, dst_stride);
}
