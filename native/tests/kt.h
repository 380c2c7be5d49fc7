/* The C kernel test's reporting: every microkernel against its scalar twin. */
#ifndef PE_KT_H
#define PE_KT_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
  uint32_t features; /* what this CPU has (pe_detect_features: PYEDGE_ISA caps it) */
  long passed, failed, skipped;
  uint32_t seed;
} kt_state;

/* xorshift32: deterministic test data on every target */
static inline uint32_t kt_rand(kt_state *s) {
  uint32_t x = s->seed;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return s->seed = x;
}
static inline int32_t kt_range(kt_state *s, int32_t lo, int32_t hi) {
  return lo + (int32_t)(kt_rand(s) % (uint32_t)(hi - lo + 1));
}
/* A requantization multiplier: 0, INT32_MAX, 2^30 or one in [2^30, 2^31) */
static inline int32_t kt_multiplier(kt_state *s) {
  switch (kt_rand(s) % 8) {
    case 0: return 0;
    case 1: return INT32_MAX;
    case 2: return 1 << 30;
    default: return (int32_t)(0x40000000u + kt_rand(s) % 0x40000000u);
  }
}

/* Record one case; a failure prints its name and a detail line. */
void kt_check(kt_state *s, int ok, const char *what, const char *detail);
/* A variant this CPU cannot run, listed by name once. */
void kt_skip(kt_state *s, const char *variant, const char *missing_feature);

#define KT_CANARY 0x5Au

/* Test suites, one per kernel family (native/tests/kt_<family>.c). */
void kt_gemm(kt_state *s);
void kt_dwconv(kt_state *s);
void kt_dwconv_dm(kt_state *s);
void kt_vadd(kt_state *s);
void kt_prelu(kt_state *s);
void kt_requant(kt_state *s);
void kt_dot(kt_state *s);
void kt_int4(kt_state *s);
void kt_qs16(kt_state *s);
void kt_shape(kt_state *s);

#endif
