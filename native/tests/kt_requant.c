/* Requantization: the scalar twin against gemmlowp's definitions written out in int64 here,
 * the vector forms (which every x86 microkernel inlines) against the twin, on edge values of
 * the accumulator, the multiplier and every shift. */
#include <string.h>

#include "kt.h"
#include "pe_kernel.h"
#include "qs8_requant.h"

#define N 67

typedef struct {
  const char *name;
  pe_qs8_requant_fn fn;
  uint32_t features;
  const char *feature;
} kt_rq_variant;

static int32_t acc_[N], mult_[N], shift_[N];
static int8_t ref_[N + 1], got_[N + 1];

static int32_t formula(int32_t x, int32_t m, int32_t shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int32_t xs = (int32_t)((uint32_t)x << left);
  const int64_t ab = (int64_t)xs * m;
  const int64_t nudge = ab >= 0 ? (1ll << 30) : 1 - (1ll << 30);
  const int32_t hi = (xs == INT32_MIN && m == INT32_MIN) ? INT32_MAX : (int32_t)((ab + nudge) / (1ll << 31));
  const int32_t mask = (int32_t)((1ll << right) - 1), rem = hi & mask;
  const int32_t thr = (mask >> 1) + (hi < 0 ? 1 : 0);
  return (hi >> right) + (rem > thr ? 1 : 0);
}

static int32_t edge_acc(kt_state *s) {
  static const int32_t e[] = {INT32_MIN, INT32_MIN + 1, -65536, -32769, -1, 0, 1, 32767, 65536, INT32_MAX - 1,
                              INT32_MAX};
  return kt_rand(s) % 3 ? (int32_t)kt_rand(s) >> (kt_rand(s) % 31) : e[kt_rand(s) % (sizeof e / sizeof e[0])];
}

static int32_t edge_mult(kt_state *s) {
  static const int32_t e[] = {0, 1, 1 << 30, (1 << 30) + 1, INT32_MAX - 1, INT32_MAX};
  return kt_rand(s) % 2 ? (int32_t)(0x40000000u + kt_rand(s) % 0x40000000u) : e[kt_rand(s) % (sizeof e / sizeof e[0])];
}

void kt_requant(kt_state *s) {
  const kt_rq_variant vs[] = {
      {"pe_qs8_requant__scalar", pe_qs8_requant__scalar, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs8_requant_8x__avx2", pe_qs8_requant_8x__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_requant_16x__avx512", pe_qs8_requant_16x__avx512, PE_FEAT_AVX512, "avx512"},
#endif
#if PE_NEON_KERNELS
      {"pe_qs8_requant_16x__neon", pe_qs8_requant_16x__neon, PE_FEAT_NEON, "neon"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  char detail[96];
  int v, shift, rep;
  size_t i;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (shift = -31; shift <= 30; ++shift)
    for (rep = 0; rep < 8; ++rep) {
      const size_t n = rep == 0 ? N : (size_t)kt_range(s, 0, N);
      const int32_t off = kt_range(s, -128, 127);
      const int32_t lo = rep % 2 ? -128 : kt_range(s, -128, 0), hi = rep % 3 ? 127 : kt_range(s, lo, 127);
      int ok;
      for (i = 0; i < N; ++i) {
        acc_[i] = edge_acc(s);
        mult_[i] = edge_mult(s);
        shift_[i] = rep < 4 ? shift : kt_range(s, -31, 30); /* one shift for all, or mixed lanes */
      }
      memset(ref_, KT_CANARY, sizeof ref_);
      pe_qs8_requant__scalar(n, acc_, mult_, shift_, off, lo, hi, ref_);
      ok = (uint8_t)ref_[n] == KT_CANARY;
      for (i = 0; i < n && ok; ++i) {
        const int32_t r = (int32_t)((uint32_t)formula(acc_[i], mult_[i], shift_[i]) + (uint32_t)off);
        ok = ref_[i] == (int8_t)(r < lo ? lo : (r > hi ? hi : r));
      }
      sprintf(detail, "shift %d n %d rep %d", shift, (int)n, rep);
      kt_check(s, ok, "requant scalar twin vs gemmlowp formula", detail);
      for (v = 1; v < nv; ++v) {
        if ((s->features & vs[v].features) != vs[v].features) continue;
        memset(got_, KT_CANARY, sizeof got_);
        vs[v].fn(n, acc_, mult_, shift_, off, lo, hi, got_);
        kt_check(s, memcmp(got_, ref_, n + 1) == 0, vs[v].name, detail);
      }
    }
  /* Rounding ties and their neighbours: accumulators whose doubling high product lands on
     q * 2^r + 2^(r-1) + {-1, 0, 1}, both signs, q inside the int8 range (random accumulators
     almost never do, and clamp what they reach). With mult = 2^30 the high product of x is
     floor((x + 1) / 2), so every target is hit exactly; other multipliers land near it. */
  for (shift = -31; shift <= 0; ++shift) {
    const int r = -shift;
    int ok;
    for (i = 0; i < N; ++i) {
      const int64_t lim = r >= 24 ? 2 : (int64_t)1 << (31 - r < 8 ? 31 - r : 8);
      const int64_t q = (int64_t)kt_range(s, -(int32_t)lim, (int32_t)lim - 1);
      int64_t y = q * ((int64_t)1 << r) + (r > 0 ? ((int64_t)1 << (r - 1)) : 0) + kt_range(s, -1, 1), x;
      if (y > INT32_MAX / 2) y = INT32_MAX / 2;
      if (y < INT32_MIN / 2) y = INT32_MIN / 2;
      mult_[i] = i % 2 ? (1 << 30) : (int32_t)(0x40000000u + kt_rand(s) % 0x40000000u);
      x = i % 2 ? 2 * y - (int64_t)(kt_rand(s) % 2) : (int64_t)((double)y * 2147483648.0 / (double)mult_[i]);
      acc_[i] = (int32_t)(x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : x);
      shift_[i] = shift;
    }
    memset(ref_, KT_CANARY, sizeof ref_);
    pe_qs8_requant__scalar(N, acc_, mult_, shift_, 0, -128, 127, ref_);
    ok = 1;
    for (i = 0; i < N && ok; ++i) {
      const int32_t f = formula(acc_[i], mult_[i], shift_[i]);
      ok = ref_[i] == (int8_t)(f < -128 ? -128 : (f > 127 ? 127 : f));
    }
    sprintf(detail, "ties: shift %d", shift);
    kt_check(s, ok, "requant scalar twin vs gemmlowp formula", detail);
    for (v = 1; v < nv; ++v) {
      if ((s->features & vs[v].features) != vs[v].features) continue;
      memset(got_, KT_CANARY, sizeof got_);
      vs[v].fn(N, acc_, mult_, shift_, 0, -128, 127, got_);
      kt_check(s, memcmp(got_, ref_, N + 1) == 0, vs[v].name, detail);
    }
  }
}
