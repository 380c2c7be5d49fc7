/* One-input-channel depthwise convolution on AVX2: 8 output pixels per vector, two taps per
 * vpmaddwd (exact: |pair sum| <= 2 * 255 * 128), 8 channels per block.
 * Contract and layout: qs8_dwconv_dm.h. Built with the AVX2 flags (native/sources.txt). */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_dwconv_dm.h"

/* The window's rows for output row oy as int16 (x + input_offset), zeros in the padding. */
static void fill_rows(const pe_qs8_dwdm_args *a, int32_t oy, int16_t *rows, int32_t lr) {
  const __m256i off = _mm256_set1_epi16((int16_t)a->input_offset), zero = _mm256_setzero_si256();
  int32_t fy, j;
  for (fy = 0; fy < a->kh; ++fy) {
    int16_t *d = rows + (size_t)fy * lr;
    const int32_t iy = oy * a->stride_h - a->pad_h + fy * a->dilation_h;
    int32_t j0, j1;
    for (j = 0; j < lr; j += 16) _mm256_storeu_si256((__m256i *)(d + j), zero);
    if (iy < 0 || iy >= a->in_h) continue;
    /* d[j] = x[j - pad_w] + offset for j - pad_w inside the row */
    j0 = a->pad_w < lr ? a->pad_w : lr;
    j1 = (int64_t)a->pad_w + a->in_w < lr ? a->pad_w + a->in_w : lr;
    {
      const int8_t *src = a->input + (size_t)iy * a->in_w;
      for (j = j0; j + 16 <= j1; j += 16) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(src + (j - a->pad_w)));
        _mm256_storeu_si256((__m256i *)(d + j), _mm256_add_epi16(_mm256_cvtepi8_epi16(x), off));
      }
      for (; j < j1; ++j) d[j] = (int16_t)(src[j - a->pad_w] + a->input_offset);
    }
  }
}

/* Lane i: the row element at base[i * stride] in its low 16 bits (the high 16 are ignored). */
static inline __m256i tap8(const int16_t *base, int32_t stride, __m256i gather_idx) {
  if (stride == 1) return _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)base));
  if (stride == 2) return _mm256_loadu_si256((const __m256i *)base);
  return _mm256_i32gather_epi32((const int *)base, gather_idx, 2);
}

void pe_qs8_dwdm_row__avx2(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch) {
  const int32_t m = a->channels, mp = (m + PE_DWDM_CB - 1) / PE_DWDM_CB * PE_DWDM_CB;
  const int32_t taps = a->kh * a->kw, npairs = (taps + 1) / 2;
  const int32_t lr = pe_qs8_dwdm_row_len(a->out_w, a->kw, a->stride_w, a->dilation_w);
  const size_t rows_bytes = ((size_t)a->kh * lr * 2 + 63) / 64 * 64;
  int16_t *rows = (int16_t *)scratch;
  int32_t *pv = (int32_t *)((uint8_t *)scratch + rows_bytes);
  int8_t *tile = (int8_t *)(pv + (size_t)npairs * 16);
  const int32_t *init = a->packed, *wp = a->packed + mp;
  const __m256i lo16 = _mm256_set1_epi32(0xFFFF);
  const __m256i gidx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(a->stride_w));
  const __m256i out_off = _mm256_set1_epi32(a->output_offset);
  const __m256i vmin = _mm256_set1_epi32(a->act_min), vmax = _mm256_set1_epi32(a->act_max);
  /* a 4 x 4 byte transpose in each 128-bit lane: (channel, pixel) -> (pixel, channel) */
  const __m256i tr = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                      0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  int32_t p0;
  fill_rows(a, oy, rows, lr);
  for (p0 = 0; p0 < a->out_w; p0 += 8) {
    const int32_t np = a->out_w - p0 < 8 ? a->out_w - p0 : 8;
    int32_t k, fy = 0, fx = 0, c0;
    /* the tap-pair vectors of these 8 pixels */
    for (k = 0; k < npairs; ++k) {
      const int16_t *b0 = rows + (size_t)fy * lr + (size_t)fx * a->dilation_w + (size_t)p0 * a->stride_w;
      __m256i lo = _mm256_and_si256(tap8(b0, a->stride_w, gidx), lo16), hi = _mm256_setzero_si256();
      if (++fx == a->kw) fx = 0, ++fy;
      if (2 * k + 1 < taps) {
        const int16_t *b1 = rows + (size_t)fy * lr + (size_t)fx * a->dilation_w + (size_t)p0 * a->stride_w;
        hi = _mm256_slli_epi32(tap8(b1, a->stride_w, gidx), 16);
        if (++fx == a->kw) fx = 0, ++fy;
      }
      _mm256_storeu_si256((__m256i *)(pv + (size_t)k * 8), _mm256_or_si256(lo, hi));
    }
    for (c0 = 0; c0 < m; c0 += PE_DWDM_CB) {
      const int32_t cb = m - c0 < PE_DWDM_CB ? m - c0 : PE_DWDM_CB;
      __m256i acc0 = _mm256_set1_epi32(init[c0 + 0]), acc1 = _mm256_set1_epi32(init[c0 + 1]);
      __m256i acc2 = _mm256_set1_epi32(init[c0 + 2]), acc3 = _mm256_set1_epi32(init[c0 + 3]);
      __m256i acc4 = _mm256_set1_epi32(init[c0 + 4]), acc5 = _mm256_set1_epi32(init[c0 + 5]);
      __m256i acc6 = _mm256_set1_epi32(init[c0 + 6]), acc7 = _mm256_set1_epi32(init[c0 + 7]);
      __m256i r[PE_DWDM_CB], y0, y1, z0, z1;
      int32_t j, p;
      for (k = 0; k < npairs; ++k) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(pv + (size_t)k * 8));
        const int32_t *w = wp + (size_t)k * mp + c0;
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x, _mm256_set1_epi32(w[0])));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x, _mm256_set1_epi32(w[1])));
        acc2 = _mm256_add_epi32(acc2, _mm256_madd_epi16(x, _mm256_set1_epi32(w[2])));
        acc3 = _mm256_add_epi32(acc3, _mm256_madd_epi16(x, _mm256_set1_epi32(w[3])));
        acc4 = _mm256_add_epi32(acc4, _mm256_madd_epi16(x, _mm256_set1_epi32(w[4])));
        acc5 = _mm256_add_epi32(acc5, _mm256_madd_epi16(x, _mm256_set1_epi32(w[5])));
        acc6 = _mm256_add_epi32(acc6, _mm256_madd_epi16(x, _mm256_set1_epi32(w[6])));
        acc7 = _mm256_add_epi32(acc7, _mm256_madd_epi16(x, _mm256_set1_epi32(w[7])));
      }
      r[0] = acc0, r[1] = acc1, r[2] = acc2, r[3] = acc3, r[4] = acc4, r[5] = acc5, r[6] = acc6, r[7] = acc7;
      for (j = 0; j < PE_DWDM_CB; ++j)
        r[j] = j < cb ? pe_requant8_avx2(r[j], _mm256_set1_epi32(a->mult[c0 + j]), _mm256_set1_epi32(a->shift[c0 + j]),
                                         out_off, vmin, vmax)
                      : _mm256_setzero_si256();
      /* lane 0: channels 0-3 x pixels 0-3 (channel-major), lane 1: pixels 4-7; then 4 x 4 transposes */
      y0 = _mm256_shuffle_epi8(_mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3])), tr);
      y1 = _mm256_shuffle_epi8(_mm256_packs_epi16(_mm256_packs_epi32(r[4], r[5]), _mm256_packs_epi32(r[6], r[7])), tr);
      z0 = _mm256_unpacklo_epi32(y0, y1); /* pixels 0, 1 | 4, 5: 8 channels each */
      z1 = _mm256_unpackhi_epi32(y0, y1); /* pixels 2, 3 | 6, 7 */
      y0 = _mm256_permute2x128_si256(z0, z1, 0x20); /* pixels 0-3 */
      y1 = _mm256_permute2x128_si256(z0, z1, 0x31); /* pixels 4-7 */
      if (cb == PE_DWDM_CB && m == PE_DWDM_CB && np == 8) {
        int8_t *o = out + (size_t)p0 * PE_DWDM_CB;
        _mm256_storeu_si256((__m256i *)o, y0);
        _mm256_storeu_si256((__m256i *)(o + 32), y1);
        continue;
      }
      _mm256_storeu_si256((__m256i *)tile, y0);
      _mm256_storeu_si256((__m256i *)(tile + 32), y1);
      if (cb == PE_DWDM_CB) {
        for (p = 0; p < np; ++p) memcpy(out + (size_t)(p0 + p) * m + c0, tile + p * PE_DWDM_CB, PE_DWDM_CB);
      } else {
        for (p = 0; p < np; ++p) memcpy(out + (size_t)(p0 + p) * m + c0, tile + p * PE_DWDM_CB, (size_t)cb);
      }
    }
  }
}
