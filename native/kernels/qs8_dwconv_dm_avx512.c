/* One-input-channel depthwise convolution on AVX-512 (F, BW, VL): 16 output pixels per vector,
 * two taps per vpmaddwd + vpaddd (exact: |pair sum| <= 2 * 255 * 128), 8 channels per block.
 * With PE_DWDM_VNNI (qs8_dwconv_dm_avx512vnni.c includes this file) the two are one vpdpwssd,
 * the same exact sum. Contract and layout: qs8_dwconv_dm.h. Built with the AVX-512 flags
 * (native/sources.txt). */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_dwconv_dm.h"

#ifdef PE_DWDM_VNNI
#define PE_DWDM_ROW pe_qs8_dwdm_row__avx512vnni
#define PE_DWDM_MAC(acc, x, w) _mm512_dpwssd_epi32(acc, x, _mm512_set1_epi32(w))
#else
#define PE_DWDM_ROW pe_qs8_dwdm_row__avx512
#define PE_DWDM_MAC(acc, x, w) _mm512_add_epi32(acc, _mm512_madd_epi16(x, _mm512_set1_epi32(w)))
#endif

/* The window's rows for output row oy as int16 (x + input_offset), zeros in the padding. */
static void fill_rows(const pe_qs8_dwdm_args *a, int32_t oy, int16_t *rows, int32_t lr) {
  const __m512i off = _mm512_set1_epi16((int16_t)a->input_offset), zero = _mm512_setzero_si512();
  int32_t fy, j;
  for (fy = 0; fy < a->kh; ++fy) {
    int16_t *d = rows + (size_t)fy * lr;
    const int32_t iy = oy * a->stride_h - a->pad_h + fy * a->dilation_h;
    int32_t j0, j1;
    for (j = 0; j < lr; j += 32) _mm512_storeu_si512((void *)(d + j), zero);
    if (iy < 0 || iy >= a->in_h) continue;
    /* d[j] = x[j - pad_w] + offset for j - pad_w inside the row */
    j0 = a->pad_w < lr ? a->pad_w : lr;
    j1 = (int64_t)a->pad_w + a->in_w < lr ? a->pad_w + a->in_w : lr;
    {
      const int8_t *src = a->input + (size_t)iy * a->in_w;
      for (j = j0; j < j1; j += 32) {
        const int32_t n = j1 - j < 32 ? j1 - j : 32;
        const __mmask32 k = n == 32 ? 0xFFFFFFFFu : ((1u << n) - 1u);
        const __m512i v =
            _mm512_add_epi16(_mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(k, src + (j - a->pad_w))), off);
        _mm512_mask_storeu_epi16(d + j, k, v);
      }
    }
  }
}

/* Lane i: the row element at base[i * stride] in its low 16 bits (the high 16 are ignored). */
static inline __m512i tap16(const int16_t *base, int32_t stride, __m512i gather_idx) {
  if (stride == 1) return _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)base));
  if (stride == 2) return _mm512_loadu_si512((const void *)base);
  return _mm512_i32gather_epi32(gather_idx, (const void *)base, 2);
}

void PE_DWDM_ROW(const pe_qs8_dwdm_args *a, int32_t oy, int8_t *out, void *scratch) {
  const int32_t m = a->channels, mp = (m + PE_DWDM_CB - 1) / PE_DWDM_CB * PE_DWDM_CB;
  const int32_t taps = a->kh * a->kw, npairs = (taps + 1) / 2;
  const int32_t lr = pe_qs8_dwdm_row_len(a->out_w, a->kw, a->stride_w, a->dilation_w);
  const size_t rows_bytes = ((size_t)a->kh * lr * 2 + 63) / 64 * 64;
  int16_t *rows = (int16_t *)scratch;
  int32_t *pv = (int32_t *)((uint8_t *)scratch + rows_bytes);
  int8_t *tile = (int8_t *)(pv + (size_t)npairs * 16);
  const int32_t *init = a->packed, *wp = a->packed + mp;
  const __m512i lo16 = _mm512_set1_epi32(0xFFFF);
  const __m512i gidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(a->stride_w));
  const __m512i out_off = _mm512_set1_epi32(a->output_offset);
  const __m512i vmin = _mm512_set1_epi32(a->act_min), vmax = _mm512_set1_epi32(a->act_max);
  int32_t p0;
  fill_rows(a, oy, rows, lr);
  for (p0 = 0; p0 < a->out_w; p0 += 16) {
    const int32_t np = a->out_w - p0 < 16 ? a->out_w - p0 : 16;
    int32_t k, fy = 0, fx = 0, c0;
    /* the tap-pair vectors of these 16 pixels */
    for (k = 0; k < npairs; ++k) {
      const int16_t *b0 = rows + (size_t)fy * lr + (size_t)fx * a->dilation_w + (size_t)p0 * a->stride_w;
      __m512i lo = tap16(b0, a->stride_w, gidx), hi = _mm512_setzero_si512();
      if (++fx == a->kw) fx = 0, ++fy;
      if (2 * k + 1 < taps) {
        const int16_t *b1 = rows + (size_t)fy * lr + (size_t)fx * a->dilation_w + (size_t)p0 * a->stride_w;
        hi = _mm512_slli_epi32(tap16(b1, a->stride_w, gidx), 16);
        if (++fx == a->kw) fx = 0, ++fy;
      }
      /* (lo & 0xFFFF) | hi */
      _mm512_storeu_si512((void *)(pv + (size_t)k * 16), _mm512_ternarylogic_epi32(lo, lo16, hi, 0xEA));
    }
    for (c0 = 0; c0 < m; c0 += PE_DWDM_CB) {
      const int32_t cb = m - c0 < PE_DWDM_CB ? m - c0 : PE_DWDM_CB;
      __m512i acc0 = _mm512_set1_epi32(init[c0 + 0]), acc1 = _mm512_set1_epi32(init[c0 + 1]);
      __m512i acc2 = _mm512_set1_epi32(init[c0 + 2]), acc3 = _mm512_set1_epi32(init[c0 + 3]);
      __m512i acc4 = _mm512_set1_epi32(init[c0 + 4]), acc5 = _mm512_set1_epi32(init[c0 + 5]);
      __m512i acc6 = _mm512_set1_epi32(init[c0 + 6]), acc7 = _mm512_set1_epi32(init[c0 + 7]);
      __m512i r[PE_DWDM_CB];
      __m128i b[PE_DWDM_CB], t[8], u[4], v[4];
      int32_t j, p;
      for (k = 0; k < npairs; ++k) {
        const __m512i x = _mm512_loadu_si512((const void *)(pv + (size_t)k * 16));
        const int32_t *w = wp + (size_t)k * mp + c0;
        acc0 = PE_DWDM_MAC(acc0, x, w[0]);
        acc1 = PE_DWDM_MAC(acc1, x, w[1]);
        acc2 = PE_DWDM_MAC(acc2, x, w[2]);
        acc3 = PE_DWDM_MAC(acc3, x, w[3]);
        acc4 = PE_DWDM_MAC(acc4, x, w[4]);
        acc5 = PE_DWDM_MAC(acc5, x, w[5]);
        acc6 = PE_DWDM_MAC(acc6, x, w[6]);
        acc7 = PE_DWDM_MAC(acc7, x, w[7]);
      }
      r[0] = acc0, r[1] = acc1, r[2] = acc2, r[3] = acc3, r[4] = acc4, r[5] = acc5, r[6] = acc6, r[7] = acc7;
      for (j = 0; j < PE_DWDM_CB; ++j) {
        if (j < cb)
          b[j] = _mm512_cvtepi32_epi8(pe_requant16_avx512(r[j], _mm512_set1_epi32(a->mult[c0 + j]),
                                                          _mm512_set1_epi32(a->shift[c0 + j]), out_off, vmin, vmax));
        else
          b[j] = _mm_setzero_si128();
      }
      /* 8 channels x 16 pixels -> 16 pixels x 8 channels */
      for (j = 0; j < 4; ++j) {
        t[2 * j] = _mm_unpacklo_epi8(b[2 * j], b[2 * j + 1]);     /* pixels 0-7: (c, c + 1) */
        t[2 * j + 1] = _mm_unpackhi_epi8(b[2 * j], b[2 * j + 1]); /* pixels 8-15 */
      }
      u[0] = _mm_unpacklo_epi16(t[0], t[2]), u[1] = _mm_unpackhi_epi16(t[0], t[2]); /* c0-3, px 0-3, 4-7 */
      u[2] = _mm_unpacklo_epi16(t[1], t[3]), u[3] = _mm_unpackhi_epi16(t[1], t[3]); /* px 8-11, 12-15 */
      v[0] = _mm_unpacklo_epi16(t[4], t[6]), v[1] = _mm_unpackhi_epi16(t[4], t[6]); /* c4-7 */
      v[2] = _mm_unpacklo_epi16(t[5], t[7]), v[3] = _mm_unpackhi_epi16(t[5], t[7]);
      for (j = 0; j < 4; ++j) { /* pixels 4j .. 4j + 3, 8 channels each */
        t[2 * j] = _mm_unpacklo_epi32(u[j], v[j]);
        t[2 * j + 1] = _mm_unpackhi_epi32(u[j], v[j]);
      }
      if (cb == PE_DWDM_CB && m == PE_DWDM_CB && np == 16) {
        int8_t *o = out + (size_t)p0 * PE_DWDM_CB;
        for (j = 0; j < 8; ++j) _mm_storeu_si128((__m128i *)(o + 16 * j), t[j]);
        continue;
      }
      for (j = 0; j < 8; ++j) _mm_storeu_si128((__m128i *)(tile + 16 * j), t[j]);
      if (cb == PE_DWDM_CB) {
        for (p = 0; p < np; ++p) memcpy(out + (size_t)(p0 + p) * m + c0, tile + p * PE_DWDM_CB, PE_DWDM_CB);
      } else {
        for (p = 0; p < np; ++p) memcpy(out + (size_t)(p0 + p) * m + c0, tile + p * PE_DWDM_CB, (size_t)cb);
      }
    }
  }
}
