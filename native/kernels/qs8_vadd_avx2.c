/* int8 ADD/SUB microkernel, AVX2: 16 elements per step as two vectors of 8 int32 lanes, the
 * three rescales in exact vector form (pe_requant8_avx2); the tail goes to the scalar twin. */
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_vadd.h"

/* TFLite's ADD/SUB constants, broadcast once per call */
typedef struct {
  __m256i aoff, boff, amul, ash, bmul, bsh, omul, osh, ooff, vmin, vmax, zero, imin, imax;
  __m128i ls;
  int32_t sign;
} vadd_consts;

static inline vadd_consts vadd_setup(const pe_qs8_vadd_params *p) {
  vadd_consts c;
  c.aoff = _mm256_set1_epi32(p->a_offset);
  c.boff = _mm256_set1_epi32(p->b_offset);
  c.ls = _mm_cvtsi32_si128(p->left_shift);
  c.amul = _mm256_set1_epi32(p->a_mult);
  c.ash = _mm256_set1_epi32(p->a_shift);
  c.bmul = _mm256_set1_epi32(p->b_mult);
  c.bsh = _mm256_set1_epi32(p->b_shift);
  c.omul = _mm256_set1_epi32(p->out_mult);
  c.osh = _mm256_set1_epi32(p->out_shift);
  c.ooff = _mm256_set1_epi32(p->out_offset);
  c.vmin = _mm256_set1_epi32(p->act_min);
  c.vmax = _mm256_set1_epi32(p->act_max);
  c.zero = _mm256_setzero_si256();
  c.imin = _mm256_set1_epi32(INT32_MIN);
  c.imax = _mm256_set1_epi32(INT32_MAX);
  c.sign = p->sign;
  return c;
}

/* 8 lanes of a and b (the input values, any width) -> the clamped output values */
static inline __m256i vadd_lanes(const vadd_consts *c, __m256i a, __m256i b) {
  const __m256i x = _mm256_sll_epi32(_mm256_add_epi32(a, c->aoff), c->ls);
  const __m256i y = _mm256_sll_epi32(_mm256_add_epi32(b, c->boff), c->ls);
  const __m256i s1 = pe_requant8_avx2(x, c->amul, c->ash, c->zero, c->imin, c->imax);
  const __m256i s2 = pe_requant8_avx2(y, c->bmul, c->bsh, c->zero, c->imin, c->imax);
  const __m256i raw = c->sign > 0 ? _mm256_add_epi32(s1, s2) : _mm256_sub_epi32(s1, s2);
  return pe_requant8_avx2(raw, c->omul, c->osh, c->ooff, c->vmin, c->vmax);
}

static inline __m256i load8(const int8_t *p, size_t inc) {
  int64_t v;
  if (inc == 0) return _mm256_set1_epi32(*p);
  memcpy(&v, p, 8);
  return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v));
}

void pe_qs8_vadd_16x__avx2(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                           const pe_qs8_vadd_params *p) {
  const vadd_consts c = vadd_setup(p);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i r0 = vadd_lanes(&c, load8(a + i * a_inc, a_inc), load8(b + i * b_inc, b_inc));
    const __m256i r1 = vadd_lanes(&c, load8(a + (i + 8) * a_inc, a_inc), load8(b + (i + 8) * b_inc, b_inc));
    _mm_storeu_si128((__m128i *)(out + i), pe_pack16_s8_avx2(r0, r1));
  }
  if (i < n) pe_qs8_vadd__scalar(n - i, a + i * a_inc, a_inc, b + i * b_inc, b_inc, out + i, p);
}

/* int16: the same steps on 16-bit loads; the two clamped halves packed back to int16 */
static inline __m256i load8_s16(const int16_t *p, size_t inc) {
  if (inc == 0) return _mm256_set1_epi32(*p);
  return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)p));
}

void pe_qs16_vadd_16x__avx2(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc, int16_t *out,
                            const pe_qs8_vadd_params *p) {
  const vadd_consts c = vadd_setup(p);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i r0 = vadd_lanes(&c, load8_s16(a + i * a_inc, a_inc), load8_s16(b + i * b_inc, b_inc));
    const __m256i r1 = vadd_lanes(&c, load8_s16(a + (i + 8) * a_inc, a_inc), load8_s16(b + (i + 8) * b_inc, b_inc));
    _mm256_storeu_si256((__m256i *)(out + i), _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8));
  }
  if (i < n) pe_qs16_vadd__scalar(n - i, a + i * a_inc, a_inc, b + i * b_inc, b_inc, out + i, p);
}
