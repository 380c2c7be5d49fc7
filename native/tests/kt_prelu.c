/* int8 PRELU microkernels: the scalar twin against TFLite's formula written out in int64 here,
 * every SIMD variant against the twin, in place too (the output over the input). */
#include <stdio.h>
#include <string.h>

#include "kt.h"
#include "pyedge.h"
#include "pe_kernel.h"
#include "qs8_prelu.h"

#define MAX_N 300

typedef struct {
  const char *name;
  pe_qs8_prelu_fn fn;
  uint32_t features;
  const char *feature;
} kt_prelu_variant;

static int8_t x_[MAX_N], a_[MAX_N], ref_[MAX_N + 1], got_[MAX_N + 1];

/* MultiplyByQuantizedMultiplier(x, m, shift), gemmlowp's definitions, in int64 */
static int32_t mbqm_ref(int32_t x, int32_t m, int32_t shift) {
  const int left = shift > 0 ? shift : 0, e = shift > 0 ? 0 : -shift;
  const int32_t xs = (int32_t)(uint32_t)((uint64_t)(uint32_t)x << left); /* wraps, as int32 */
  int64_t ab = (int64_t)xs * m, nudge = ab >= 0 ? (1ll << 30) : 1 - (1ll << 30);
  int32_t hi, mask, rem, thr;
  if (xs == INT32_MIN && m == INT32_MIN) hi = INT32_MAX;
  else hi = (int32_t)((ab + nudge) / (1ll << 31));
  mask = (int32_t)((1ll << e) - 1);
  rem = hi & mask;
  thr = (mask >> 1) + (hi < 0 ? 1 : 0);
  return (hi >> e) + (rem > thr ? 1 : 0);
}

static int8_t formula(int32_t x, int32_t a, const pe_prelu_params *p) {
  const int32_t v = x + p->input_offset;
  const int64_t r = (int64_t)(v >= 0 ? mbqm_ref(v, p->identity_multiplier, p->identity_shift)
                                     : mbqm_ref(v * (a + p->alpha_offset), p->alpha_multiplier, p->alpha_shift)) +
                    p->output_offset;
  return (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
}

void kt_prelu(kt_state *s) {
  static const size_t ns[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, MAX_N};
  const kt_prelu_variant vs[] = {
      {"pe_qs8_prelu__scalar", pe_qs8_prelu__scalar, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs8_prelu_16x__avx2", pe_qs8_prelu_16x__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_prelu_16x__avx512", pe_qs8_prelu_16x__avx512, PE_FEAT_AVX512, "avx512"},
#endif
#if PE_NEON_KERNELS
      {"pe_qs8_prelu_16x__neon", pe_qs8_prelu_16x__neon, PE_FEAT_NEON, "neon"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  char detail[160];
  size_t ni, i;
  int v, rep;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (ni = 0; ni < sizeof ns / sizeof ns[0]; ++ni)
    for (rep = 0; rep < 8; ++rep) {
      const size_t n = ns[ni];
      pe_prelu_params p;
      int ok;
      p.input_offset = kt_range(s, -127, 128);
      p.alpha_offset = kt_range(s, -127, 128);
      if (rep == 1) p.input_offset = p.alpha_offset = 128;
      if (rep == 2) p.input_offset = p.alpha_offset = -127;
      p.output_offset = kt_range(s, -128, 127);
      p.identity_multiplier = kt_multiplier(s);
      p.alpha_multiplier = kt_multiplier(s);
      /* shifts over the whole range the check allows: large left shifts wrap and saturate */
      p.identity_shift = rep == 3 ? 31 : (rep == 4 ? -31 : kt_range(s, -12, 4));
      p.alpha_shift = rep == 5 ? 31 : (rep == 6 ? -31 : kt_range(s, -16, 2));
      for (i = 0; i < MAX_N; ++i) {
        x_[i] = (int8_t)kt_range(s, -128, 127);
        a_[i] = (int8_t)kt_range(s, -128, 127);
      }
      memset(ref_, KT_CANARY, sizeof ref_);
      pe_qs8_prelu__scalar(n, x_, a_, ref_, &p);
      ok = (uint8_t)ref_[n] == KT_CANARY;
      for (i = 0; i < n && ok; ++i) ok = ref_[i] == formula(x_[i], a_[i], &p);
      sprintf(detail, "n %d offsets %d %d %d shifts %d %d", (int)n, (int)p.input_offset, (int)p.alpha_offset,
              (int)p.output_offset, (int)p.identity_shift, (int)p.alpha_shift);
      kt_check(s, ok, "prelu scalar twin vs TFLite formula", detail);
      for (v = 1; v < nv; ++v) {
        if ((s->features & vs[v].features) != vs[v].features) continue;
        memset(got_, KT_CANARY, sizeof got_);
        vs[v].fn(n, x_, a_, got_, &p);
        kt_check(s, memcmp(got_, ref_, n + 1) == 0, vs[v].name, detail);
        /* in place: the output over the input */
        memcpy(got_, x_, n);
        got_[n] = (int8_t)KT_CANARY;
        vs[v].fn(n, got_, a_, got_, &p);
        kt_check(s, memcmp(got_, ref_, n + 1) == 0, vs[v].name, "in place");
      }
    }
}
