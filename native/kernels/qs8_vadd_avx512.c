/* int8 ADD/SUB microkernel, AVX-512: 16 elements per step in 16 int32 lanes,
 * the three rescales in exact vector form (pe_rq16_apply), masked tail. */
#include "pe_requant_x86.h"
#include "qs8_vadd.h"

/* TFLite's ADD/SUB constants, broadcast once per call */
typedef struct {
  __m512i aoff, boff, ooff, vmin, vmax, zero;
  pe_rq16 ra, rb, ro; /* the three rescales' terms */
  __m128i ls;
  int32_t sign;
} vadd_consts;

static inline vadd_consts vadd_setup(const pe_qs8_vadd_params *p) {
  vadd_consts c;
  c.aoff = _mm512_set1_epi32(p->a_offset);
  c.boff = _mm512_set1_epi32(p->b_offset);
  c.ls = _mm_cvtsi32_si128(p->left_shift);
  c.ra = pe_rq16_prepare(_mm512_set1_epi32(p->a_mult), _mm512_set1_epi32(p->a_shift), _mm512_setzero_si512());
  c.rb = pe_rq16_prepare(_mm512_set1_epi32(p->b_mult), _mm512_set1_epi32(p->b_shift), _mm512_setzero_si512());
  c.ro = pe_rq16_prepare(_mm512_set1_epi32(p->out_mult), _mm512_set1_epi32(p->out_shift), _mm512_set1_epi32(p->out_offset));
  c.ooff = _mm512_set1_epi32(p->out_offset);
  c.vmin = _mm512_set1_epi32(p->act_min);
  c.vmax = _mm512_set1_epi32(p->act_max);
  c.zero = _mm512_setzero_si512();
  c.sign = p->sign;
  return c;
}

/* 16 lanes of a and b (the input values, any width) -> the clamped output values */
static inline __m512i vadd_lanes(const vadd_consts *c, __m512i a, __m512i b) {
  const __m512i x = _mm512_sll_epi32(_mm512_add_epi32(a, c->aoff), c->ls);
  const __m512i y = _mm512_sll_epi32(_mm512_add_epi32(b, c->boff), c->ls);
  const __m512i s1 = pe_rq16_apply(&c->ra, x);
  const __m512i s2 = pe_rq16_apply(&c->rb, y);
  const __m512i raw = c->sign > 0 ? _mm512_add_epi32(s1, s2) : _mm512_sub_epi32(s1, s2);
  return _mm512_min_epi32(_mm512_max_epi32(pe_rq16_apply(&c->ro, raw), c->vmin), c->vmax);
}

static inline __mmask16 tail_mask(size_t cnt) {
  return (__mmask16)(cnt == 16 ? 0xFFFFu : ((1u << cnt) - 1u));
}

static inline __m512i load16(const int8_t *p, size_t inc, __mmask16 m) {
  if (inc == 0) return _mm512_set1_epi32(*p);
  return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p));
}

void pe_qs8_vadd_16x__avx512(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc,
                             int8_t *out, const pe_qs8_vadd_params *p) {
  const vadd_consts c = vadd_setup(p);
  size_t i, cnt;
  for (i = 0; i < n; i += cnt) {
    const __mmask16 m = tail_mask(cnt = n - i < 16 ? n - i : 16);
    const __m512i r = vadd_lanes(&c, load16(a + i * a_inc, a_inc, m), load16(b + i * b_inc, b_inc, m));
    _mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(r));
  }
}

/* int16: the same steps on 16-bit loads and stores */
static inline __m512i load16_s16(const int16_t *p, size_t inc, __mmask16 m) {
  if (inc == 0) return _mm512_set1_epi32(*p);
  return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, p));
}

void pe_qs16_vadd_16x__avx512(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc,
                              int16_t *out, const pe_qs8_vadd_params *p) {
  const vadd_consts c = vadd_setup(p);
  size_t i, cnt;
  for (i = 0; i < n; i += cnt) {
    const __mmask16 m = tail_mask(cnt = n - i < 16 ? n - i : 16);
    const __m512i r = vadd_lanes(&c, load16_s16(a + i * a_inc, a_inc, m), load16_s16(b + i * b_inc, b_inc, m));
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtepi32_epi16(r));
  }
}
