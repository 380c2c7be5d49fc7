/* 1-byte TRANSPOSE on AVX-512 BW (x8_transpose.h): the interleave of 2-4 planes (NCHW -> NHWC)
   and its inverse (NHWC -> NCHW) 64 pixels at a time, vpshufb in each of the four 128-bit lanes
   (the masks of the AVX2 kernel); the remaining pixels and every other tile go to the AVX2
   kernel (the AVX-512 tier includes AVX2). */
#include <immintrin.h>

#include "x8_transpose.h"

static void interleave_masks(size_t c_n, __m512i m[4][4]) {
  uint8_t b[16];
  size_t j, c, q;
  for (j = 0; j < c_n; ++j)
    for (c = 0; c < c_n; ++c) {
      for (q = 0; q < 16; ++q) {
        const size_t p = 16 * j + q;
        b[q] = (uint8_t)(p % c_n == c ? p / c_n : 0x80);
      }
      m[j][c] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)b));
    }
}

static void split_masks(size_t c_n, __m512i m[4][4]) {
  uint8_t b[16];
  size_t j, c, q;
  for (j = 0; j < c_n; ++j)
    for (c = 0; c < c_n; ++c) {
      for (q = 0; q < 16; ++q) {
        const size_t p = q * c_n + c;
        b[q] = (uint8_t)(p / 16 == j ? p % 16 : 0x80);
      }
      m[j][c] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)b));
    }
}

/* the 16-byte lane l of v stored at p */
#define STORE_LANE(p, v, l) _mm_storeu_si128((__m128i *)(p), _mm512_extracti32x4_epi32(v, l))

static inline __attribute__((always_inline)) size_t interleave_c(size_t rows, size_t c_n, const uint8_t *src, size_t src_stride, uint8_t *dst) {
  __m512i m[4][4], pl[4], o;
  size_t r, j, c;
  interleave_masks(c_n, m);
  for (r = 0; r + 64 <= rows; r += 64) {
    uint8_t *d = dst + r * c_n;
    for (c = 0; c < c_n; ++c) pl[c] = _mm512_loadu_si512((const void *)(src + c * src_stride + r));
    for (j = 0; j < c_n; ++j) {
      o = _mm512_shuffle_epi8(pl[0], m[j][0]);
      for (c = 1; c < c_n; ++c) o = _mm512_or_si512(o, _mm512_shuffle_epi8(pl[c], m[j][c]));
      STORE_LANE(d + 16 * j, o, 0);
      STORE_LANE(d + 16 * (c_n + j), o, 1);
      STORE_LANE(d + 16 * (2 * c_n + j), o, 2);
      STORE_LANE(d + 16 * (3 * c_n + j), o, 3);
    }
  }
  return r;
}

static inline __attribute__((always_inline)) size_t split_c(size_t cols, size_t c_n, const uint8_t *src, uint8_t *dst, size_t dst_stride) {
  __m512i m[4][4], in[4], o;
  size_t i, j, c;
  split_masks(c_n, m);
  for (i = 0; i + 64 <= cols; i += 64) {
    const uint8_t *s = src + i * c_n;
    for (j = 0; j < c_n; ++j) {
      __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(s + 16 * j)));
      v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(s + 16 * (c_n + j))), 1);
      v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(s + 16 * (2 * c_n + j))), 2);
      in[j] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(s + 16 * (3 * c_n + j))), 3);
    }
    for (c = 0; c < c_n; ++c) {
      o = _mm512_shuffle_epi8(in[0], m[0][c]);
      for (j = 1; j < c_n; ++j) o = _mm512_or_si512(o, _mm512_shuffle_epi8(in[j], m[j][c]));
      _mm512_storeu_si512((void *)(dst + c * dst_stride + i), o);
    }
  }
  return i;
}

/* the channel count a constant in each copy, so the loops unroll and the masks stay in registers */
static size_t interleave(size_t rows, size_t c_n, const uint8_t *src, size_t src_stride, uint8_t *dst) {
  switch (c_n) {
    case 2: return interleave_c(rows, 2, src, src_stride, dst);
    case 3: return interleave_c(rows, 3, src, src_stride, dst);
    default: return interleave_c(rows, 4, src, src_stride, dst);
  }
}

static size_t split(size_t cols, size_t c_n, const uint8_t *src, uint8_t *dst, size_t dst_stride) {
  switch (c_n) {
    case 2: return split_c(cols, 2, src, dst, dst_stride);
    case 3: return split_c(cols, 3, src, dst, dst_stride);
    default: return split_c(cols, 4, src, dst, dst_stride);
  }
}

void pe_x8_transpose__avx512(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                             size_t dst_stride) {
  size_t k;
  if (cols >= 2 && cols <= 4 && dst_stride == cols && rows >= 64) {
    k = interleave(rows, cols, src, src_stride, dst);
    pe_x8_transpose__avx2(rows - k, cols, src + k, src_stride, dst + k * dst_stride, dst_stride);
    return;
  }
  if (rows >= 2 && rows <= 4 && src_stride == rows && cols >= 64) {
    k = split(cols, rows, src, dst, dst_stride);
    pe_x8_transpose__avx2(rows, cols - k, src + k * src_stride, src_stride, dst + k, dst_stride);
    return;
  }
  pe_x8_transpose__avx2(rows, cols, src, src_stride, dst, dst_stride);
}
