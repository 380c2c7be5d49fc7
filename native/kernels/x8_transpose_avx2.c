/* 1-byte TRANSPOSE on AVX2 (x8_transpose.h).
 *   - C planes interleaved (cols = dst_stride = C in 2..4, NCHW -> NHWC): 32 rows at a time, each
 *     16-byte output piece the OR of C vpshufb of the planes' lanes.
 *   - bytes split into C planes (rows = src_stride = C in 2..4, NHWC -> NCHW): 32 columns at a
 *     time, each plane the OR of C vpshufb of the pixels' 16-byte pieces.
 *   - any other tile: 16x16 blocks transposed in registers (four rounds of byte unpacks).
 * Edges go to the scalar twin. */
#include <immintrin.h>

#include "x8_transpose.h"

/* Interleave masks: piece j (output bytes 16j..16j+15 of 16 pixels) takes from plane c the
   bytes p = 16j + q with p % C == c, from pixel p / C. */
static void interleave_masks(size_t c_n, uint8_t m[4][4][16]) {
  size_t j, c, q;
  for (j = 0; j < c_n; ++j)
    for (c = 0; c < c_n; ++c)
      for (q = 0; q < 16; ++q) {
        const size_t p = 16 * j + q;
        m[j][c][q] = (uint8_t)(p % c_n == c ? p / c_n : 0x80);
      }
}

/* Split masks: plane c (16 pixels) takes from piece j the bytes p = q * C + c in 16j..16j+15. */
static void split_masks(size_t c_n, uint8_t m[4][4][16]) {
  size_t j, c, q;
  for (j = 0; j < c_n; ++j)
    for (c = 0; c < c_n; ++c)
      for (q = 0; q < 16; ++q) {
        const size_t p = q * c_n + c;
        m[j][c][q] = (uint8_t)(p / 16 == j ? p % 16 : 0x80);
      }
}

static inline __attribute__((always_inline)) size_t interleave_c(size_t rows, size_t c_n, const uint8_t *src, size_t src_stride, uint8_t *dst) {
  uint8_t mb[4][4][16];
  __m256i m[4][4], pl[4], o;
  size_t r, j, c;
  interleave_masks(c_n, mb);
  for (j = 0; j < c_n; ++j)
    for (c = 0; c < c_n; ++c) m[j][c] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)mb[j][c]));
  for (r = 0; r + 32 <= rows; r += 32) {
    for (c = 0; c < c_n; ++c) pl[c] = _mm256_loadu_si256((const __m256i *)(src + c * src_stride + r));
    for (j = 0; j < c_n; ++j) {
      o = _mm256_shuffle_epi8(pl[0], m[j][0]);
      for (c = 1; c < c_n; ++c) o = _mm256_or_si256(o, _mm256_shuffle_epi8(pl[c], m[j][c]));
      _mm_storeu_si128((__m128i *)(dst + r * c_n + 16 * j), _mm256_castsi256_si128(o));
      _mm_storeu_si128((__m128i *)(dst + (r + 16) * c_n + 16 * j), _mm256_extracti128_si256(o, 1));
    }
  }
  return r;
}

static inline __attribute__((always_inline)) size_t split_c(size_t cols, size_t c_n, const uint8_t *src, uint8_t *dst, size_t dst_stride) {
  uint8_t mb[4][4][16];
  __m256i m[4][4], in[4], o;
  size_t i, j, c;
  split_masks(c_n, mb);
  for (j = 0; j < c_n; ++j)
    for (c = 0; c < c_n; ++c) m[j][c] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)mb[j][c]));
  for (i = 0; i + 32 <= cols; i += 32) {
    for (j = 0; j < c_n; ++j)
      in[j] = _mm256_inserti128_si256(
          _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(src + i * c_n + 16 * j))),
          _mm_loadu_si128((const __m128i *)(src + (i + 16) * c_n + 16 * j)), 1);
    for (c = 0; c < c_n; ++c) {
      o = _mm256_shuffle_epi8(in[0], m[0][c]);
      for (j = 1; j < c_n; ++j) o = _mm256_or_si256(o, _mm256_shuffle_epi8(in[j], m[j][c]));
      _mm256_storeu_si256((__m256i *)(dst + c * dst_stride + i), o);
    }
  }
  return i;
}

/* 16x16 block: a[k] = 16 bytes of src run k; four rounds of the perfect shuffle (each rotates
   the 8-bit (run, byte) address by one bit) leave a[r] = byte r of every run.
   One round: b[2k], b[2k + 1] = the bytes of a[k] and a[k + 8] interleaved */
static inline __attribute__((always_inline)) void shuffle_round(const __m128i *a, __m128i *b) {
  int k;
#pragma GCC unroll 8
  for (k = 0; k < 8; ++k) {
    b[2 * k] = _mm_unpacklo_epi8(a[k], a[k + 8]);
    b[2 * k + 1] = _mm_unpackhi_epi8(a[k], a[k + 8]);
  }
}

static void block16(const uint8_t *src, size_t src_stride, uint8_t *dst, size_t dst_stride) {
  __m128i a[16], b[16];
  int k;
#pragma GCC unroll 16
  for (k = 0; k < 16; ++k) a[k] = _mm_loadu_si128((const __m128i *)(src + (size_t)k * src_stride));
  shuffle_round(a, b);
  shuffle_round(b, a);
  shuffle_round(a, b);
  shuffle_round(b, a);
#pragma GCC unroll 16
  for (k = 0; k < 16; ++k) _mm_storeu_si128((__m128i *)(dst + (size_t)k * dst_stride), a[k]);
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

void pe_x8_transpose__avx2(size_t rows, size_t cols, const uint8_t *src, size_t src_stride, uint8_t *dst,
                           size_t dst_stride) {
  size_t r, i, r16, c16;
  if (cols >= 2 && cols <= 4 && dst_stride == cols && rows >= 32) {
    r = interleave(rows, cols, src, src_stride, dst);
    pe_x8_transpose__scalar(rows - r, cols, src + r, src_stride, dst + r * dst_stride, dst_stride);
    return;
  }
  if (rows >= 2 && rows <= 4 && src_stride == rows && cols >= 32) {
    i = split(cols, rows, src, dst, dst_stride);
    pe_x8_transpose__scalar(rows, cols - i, src + i * src_stride, src_stride, dst + i, dst_stride);
    return;
  }
  r16 = rows & ~(size_t)15;
  c16 = cols & ~(size_t)15;
  for (r = 0; r < r16; r += 16)
    for (i = 0; i < c16; i += 16) block16(src + r + i * src_stride, src_stride, dst + r * dst_stride + i, dst_stride);
  pe_x8_transpose__scalar(r16, cols - c16, src + c16 * src_stride, src_stride, dst + c16, dst_stride);
  pe_x8_transpose__scalar(rows - r16, cols, src + r16, src_stride, dst + r16 * dst_stride, dst_stride);
}
