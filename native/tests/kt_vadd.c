/* int8 and int16 ADD/SUB microkernels: the scalar twins against TFLite's formula written out in
 * int64 here, every SIMD variant against the twin; both inputs dense or either one broadcast. */
#include <string.h>

#include "kt.h"
#include "pyedge.h"
#include "pe_kernel.h"
#include "qs8_vadd.h"

#define MAX_N 300

typedef struct {
  const char *name;
  pe_qs8_vadd_fn fn;
  pe_qs16_vadd_fn fn16;
  uint32_t features;
  const char *feature;
} kt_vadd_variant;

static int8_t a_[MAX_N], b_[MAX_N], ref_[MAX_N + 1], got_[MAX_N + 1];

/* SaturatingRoundingDoublingHighMul then RoundingDivideByPOT(-shift), gemmlowp's definitions */
static int32_t mbqm_small(int32_t x, int32_t m, int32_t shift) {
  int64_t ab = (int64_t)x * m, nudge = ab >= 0 ? (1ll << 30) : 1 - (1ll << 30);
  int32_t hi, e = -shift, mask, rem, thr;
  if (x == INT32_MIN && m == INT32_MIN) hi = INT32_MAX;
  else hi = (int32_t)((ab + nudge) / (1ll << 31));
  mask = (int32_t)((1ll << e) - 1);
  rem = hi & mask;
  thr = (mask >> 1) + (hi < 0 ? 1 : 0);
  return (hi >> e) + (rem > thr ? 1 : 0);
}

static int16_t a16_[MAX_N], b16_[MAX_N], ref16_[MAX_N + 1], got16_[MAX_N + 1];

static int32_t formula32(int32_t x, int32_t y, const pe_qs8_vadd_params *p) {
  const int32_t s1 = mbqm_small((int32_t)((int64_t)(x + p->a_offset) * (1ll << p->left_shift)), p->a_mult, p->a_shift);
  const int32_t s2 = mbqm_small((int32_t)((int64_t)(y + p->b_offset) * (1ll << p->left_shift)), p->b_mult, p->b_shift);
  int32_t r = mbqm_small(p->sign > 0 ? s1 + s2 : s1 - s2, p->out_mult, p->out_shift) + p->out_offset;
  return r < p->act_min ? p->act_min : (r > p->act_max ? p->act_max : r);
}

static int8_t formula(int32_t x, int32_t y, const pe_qs8_vadd_params *p) { return (int8_t)formula32(x, y, p); }

/* int16 (TFLite's general-scale int16 ADD/SUB): zero points 0, left_shift 15, clamps in int16 */
static void kt_vadd16(kt_state *s, const kt_vadd_variant *vs, int nv) {
  static const size_t ns[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, MAX_N};
  char detail[160];
  size_t ni, i;
  int v, rep, bc;
  for (ni = 0; ni < sizeof ns / sizeof ns[0]; ++ni)
    for (bc = 0; bc < 3; ++bc)
      for (rep = 0; rep < 6; ++rep) {
        const size_t n = ns[ni];
        const size_t a_inc = bc == 1 ? 0 : 1, b_inc = bc == 2 ? 0 : 1;
        pe_qs8_vadd_params p;
        int ok = 1;
        p.left_shift = rep == 0 ? 15 : kt_range(s, 0, 15);
        p.a_offset = p.b_offset = p.out_offset = 0;
        p.a_mult = kt_multiplier(s);
        p.b_mult = kt_multiplier(s);
        p.out_mult = kt_multiplier(s);
        p.a_shift = kt_range(s, -31, 0);
        p.b_shift = kt_range(s, -31, 0);
        p.out_shift = kt_range(s, -31, 0);
        if (rep == 3) p.a_shift = p.b_shift = p.out_shift = 0;
        p.act_min = kt_rand(s) % 2 ? -32768 : kt_range(s, -32768, 0);
        p.act_max = kt_rand(s) % 2 ? 32767 : kt_range(s, p.act_min, 32767);
        p.sign = kt_rand(s) % 2 ? 1 : -1;
        for (i = 0; i < MAX_N; ++i) {
          a16_[i] = (int16_t)(rep == 1 ? -32768 : kt_range(s, -32768, 32767));
          b16_[i] = (int16_t)(rep == 1 ? -32768 : kt_range(s, -32768, 32767));
        }
        memset(ref16_, KT_CANARY, sizeof ref16_);
        pe_qs16_vadd__scalar(n, a16_, a_inc, b16_, b_inc, ref16_, &p);
        ok = ((uint8_t *)&ref16_[n])[0] == KT_CANARY;
        for (i = 0; i < n && ok; ++i) ok = ref16_[i] == (int16_t)formula32(a16_[i * a_inc], b16_[i * b_inc], &p);
        sprintf(detail, "int16 n %d bcast %d ls %d shifts %d %d %d sign %d", (int)n, bc, (int)p.left_shift,
                (int)p.a_shift, (int)p.b_shift, (int)p.out_shift, (int)p.sign);
        kt_check(s, ok, "vadd int16 scalar twin vs TFLite formula", detail);
        for (v = 1; v < nv; ++v) {
          if ((s->features & vs[v].features) != vs[v].features) continue;
          memset(got16_, KT_CANARY, sizeof got16_);
          vs[v].fn16(n, a16_, a_inc, b16_, b_inc, got16_, &p);
          kt_check(s, memcmp(got16_, ref16_, (n + 1) * sizeof(int16_t)) == 0, vs[v].name, detail);
        }
      }
}

void kt_vadd(kt_state *s) {
  static const size_t ns[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, MAX_N};
  const kt_vadd_variant vs[] = {
      {"pe_qs8_vadd__scalar", pe_qs8_vadd__scalar, pe_qs16_vadd__scalar, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs8_vadd_16x__avx2", pe_qs8_vadd_16x__avx2, pe_qs16_vadd_16x__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_vadd_16x__avx512", pe_qs8_vadd_16x__avx512, pe_qs16_vadd_16x__avx512, PE_FEAT_AVX512, "avx512"},
#endif
#if PE_NEON_KERNELS
      {"pe_qs8_vadd_16x__neon", pe_qs8_vadd_16x__neon, pe_qs16_vadd_16x__neon, PE_FEAT_NEON, "neon"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  char detail[160];
  size_t ni, i;
  int v, rep, bc;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (ni = 0; ni < sizeof ns / sizeof ns[0]; ++ni)
    for (bc = 0; bc < 3; ++bc)
      for (rep = 0; rep < 6; ++rep) {
        const size_t n = ns[ni];
        const size_t a_inc = bc == 1 ? 0 : 1, b_inc = bc == 2 ? 0 : 1;
        pe_qs8_vadd_params p;
        int ok = 1;
        p.left_shift = rep == 0 ? 20 : kt_range(s, 0, 20);
        p.a_offset = kt_range(s, -127, 128);
        p.b_offset = kt_range(s, -127, 128);
        if (rep == 1) p.a_offset = p.b_offset = 128;
        if (rep == 2) p.a_offset = p.b_offset = -127;
        p.a_mult = kt_multiplier(s);
        p.b_mult = kt_multiplier(s);
        p.out_mult = kt_multiplier(s);
        p.a_shift = kt_range(s, -31, 0);
        p.b_shift = kt_range(s, -31, 0);
        p.out_shift = kt_range(s, -31, 0);
        if (rep == 3) p.a_shift = p.b_shift = p.out_shift = 0;
        p.out_offset = kt_range(s, -128, 127);
        p.act_min = kt_rand(s) % 2 ? -128 : kt_range(s, -128, 0);
        p.act_max = kt_rand(s) % 2 ? 127 : kt_range(s, p.act_min, 127);
        p.sign = kt_rand(s) % 2 ? 1 : -1;
        for (i = 0; i < MAX_N; ++i) {
          a_[i] = (int8_t)kt_range(s, -128, 127);
          b_[i] = (int8_t)kt_range(s, -128, 127);
        }
        memset(ref_, KT_CANARY, sizeof ref_);
        pe_qs8_vadd__scalar(n, a_, a_inc, b_, b_inc, ref_, &p);
        ok = (uint8_t)ref_[n] == KT_CANARY;
        for (i = 0; i < n && ok; ++i) ok = ref_[i] == formula(a_[i * a_inc], b_[i * b_inc], &p);
        sprintf(detail, "n %d bcast %d ls %d shifts %d %d %d sign %d", (int)n, bc, (int)p.left_shift,
                (int)p.a_shift, (int)p.b_shift, (int)p.out_shift, (int)p.sign);
        kt_check(s, ok, "vadd scalar twin vs TFLite formula", detail);
        for (v = 1; v < nv; ++v) {
          if ((s->features & vs[v].features) != vs[v].features) continue;
          memset(got_, KT_CANARY, sizeof got_);
          vs[v].fn(n, a_, a_inc, b_, b_inc, got_, &p);
          kt_check(s, memcmp(got_, ref_, n + 1) == 0, vs[v].name, detail);
        }
      }
  kt_vadd16(s, vs, nv);
}
