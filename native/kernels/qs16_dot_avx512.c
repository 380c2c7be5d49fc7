/* 16x8 window dot products, AVX-512 (F + BW; contract and exactness bound in qs16_dot.h): 32
 * elements per step, the int8 weights widened with vpmovsxbw, vpmaddwd + vpaddd into int32 lanes
 * (vpdpwssd when built as qs16_dot_avx512vnni.c), the run's tail one masked step. */
#include <immintrin.h>

#include "qs16_dot.h"

#if defined(PE_QS16_VNNI)
#define MAC(a, w, x) _mm512_dpwssd_epi32((a), (w), (x))
#define PE_QS16_DOT_AVX512 pe_qs16_dot_4c__avx512vnni
#else
#define MAC(a, w, x) _mm512_add_epi32((a), _mm512_madd_epi16((w), (x)))
#define PE_QS16_DOT_AVX512 pe_qs16_dot_4c__avx512
#endif

/* the 16 int32 lanes summed in int64 */
static inline int64_t sum64(__m512i v) {
  const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
  const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
  return (int64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

static inline __m512i wload(const int8_t *p, __mmask32 m) {
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
}

void PE_QS16_DOT_AVX512(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                        size_t nc, int64_t *acc) {
  /* missing filters repeat filter 0 (read, never stored) */
  const int8_t *f0 = f, *f1 = nc > 1 ? f + f_stride : f, *f2 = nc > 2 ? f + 2 * f_stride : f;
  const int8_t *f3 = nc > 3 ? f + 3 * f_stride : f;
  const int32_t len = w->len, lv = len & ~31;
  const __mmask32 tail = (__mmask32)(((uint64_t)1 << (len - lv)) - 1u);
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int64_t s[4] = {0, 0, 0, 0};
  int32_t r, q, i, steps = 0;
  size_t j;
  for (r = 0; r < w->rows; ++r)
    for (q = 0; q < w->runs; ++q) {
      const int16_t *xr = x + (ptrdiff_t)r * w->in_row + (ptrdiff_t)q * w->in_run;
      const ptrdiff_t off = (ptrdiff_t)r * w->f_row + (ptrdiff_t)q * w->f_run;
      for (i = 0; i < len; i += 32) {
        const __mmask32 m = i < lv ? (__mmask32)0xFFFFFFFFu : tail;
        const __m512i xv = _mm512_maskz_loadu_epi16(m, xr + i);
        a0 = MAC(a0, wload(f0 + off + i, m), xv);
        a1 = MAC(a1, wload(f1 + off + i, m), xv);
        a2 = MAC(a2, wload(f2 + off + i, m), xv);
        a3 = MAC(a3, wload(f3 + off + i, m), xv);
        if (++steps == PE_QS16_DOT_FLUSH) {
          s[0] += sum64(a0);
          s[1] += sum64(a1);
          s[2] += sum64(a2);
          s[3] += sum64(a3);
          a0 = a1 = a2 = a3 = _mm512_setzero_si512();
          steps = 0;
        }
      }
    }
  s[0] += sum64(a0);
  s[1] += sum64(a1);
  s[2] += sum64(a2);
  s[3] += sum64(a3);
  for (j = 0; j < nc; ++j) acc[j] = s[j];
}

#if !defined(PE_QS16_VNNI)
/* depthwise: 16 channels per vector (int16 and int8 widened to int32, vpmulld), the last
   channels one masked step */
static inline void flush16(__m512i a, int64_t *acc, __mmask16 m) {
  const __mmask8 lo = (__mmask8)(m & 0xFF), hi = (__mmask8)(m >> 8);
  _mm512_mask_storeu_epi64(acc, lo, _mm512_add_epi64(_mm512_maskz_loadu_epi64(lo, acc),
                                                       _mm512_cvtepi32_epi64(_mm512_castsi512_si256(a))));
  _mm512_mask_storeu_epi64(acc + 8, hi, _mm512_add_epi64(_mm512_maskz_loadu_epi64(hi, acc + 8),
                                                           _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(a, 1))));
}

void pe_qs16_dw_px__avx512(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc) {
  size_t c;
  int32_t r, k;
  for (c = 0; c < nch; c += 16) {
    const __mmask16 m = nch - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nch - c)) - 1u);
    __m512i a = _mm512_setzero_si512();
    int32_t steps = 0;
    _mm512_mask_storeu_epi64(acc + c, (__mmask8)(m & 0xFF), _mm512_setzero_si512());
    _mm512_mask_storeu_epi64(acc + c + 8, (__mmask8)(m >> 8), _mm512_setzero_si512());
    for (r = 0; r < t->rows; ++r)
      for (k = 0; k < t->cols; ++k) {
        const int16_t *xp = x + (ptrdiff_t)r * t->in_row + (ptrdiff_t)k * t->in_col + (ptrdiff_t)c;
        const int8_t *fp = f + (ptrdiff_t)r * t->f_row + (ptrdiff_t)k * t->f_col + (ptrdiff_t)c;
        const __m512i xv = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, xp));
        const __m512i wv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, fp));
        a = _mm512_add_epi32(a, _mm512_mullo_epi32(xv, wv));
        if (++steps == PE_QS16_DOT_FLUSH) {
          flush16(a, acc + c, m);
          a = _mm512_setzero_si512();
          steps = 0;
        }
      }
    flush16(a, acc + c, m);
  }
}
#endif
