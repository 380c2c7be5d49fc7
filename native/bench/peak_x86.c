/* Register-only int8 multiply-accumulate loops: the peak MAC rate of this CPU's x86 paths, for
 * `pyedge bench` to report each kernel's share of it. Twelve independent accumulators, so the
 * loop is bound by throughput, not latency. Hosted builds only (elsewhere it measures nothing); not part of the core. */
#include <stdint.h>

#include "pe_bench.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* The loop bodies are assembly, so the compiler cannot add register moves between the
   instructions measured: independent accumulators, one instruction (or pair) each. */

__attribute__((target("avx2"))) static uint64_t peak_vpmaddwd_ymm(uint64_t iters) {
  /* ten accumulators: with two temporaries and the operands they fill the 16 ymm registers */
  const __m256i a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(5);
  __m256i c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a;
  __m256i t0, t1;
  int32_t out[8];
  uint64_t i;
  for (i = 0; i < iters; ++i) {
    __asm__ volatile(
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c0], %[c0]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c1], %[c1]\n\t"
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c2], %[c2]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c3], %[c3]\n\t"
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c4], %[c4]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c5], %[c5]\n\t"
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c6], %[c6]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c7], %[c7]\n\t"
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c8], %[c8]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c9], %[c9]\n\t"
        : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5),
          [c6] "+x"(c6), [c7] "+x"(c7), [c8] "+x"(c8), [c9] "+x"(c9), [t0] "=&x"(t0), [t1] "=&x"(t1)
        : [a] "x"(a), [b] "x"(b));
  }
  c0 = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                        _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
  c0 = _mm256_add_epi32(c0, _mm256_add_epi32(c8, c9));
  _mm256_storeu_si256((__m256i *)out, c0);
  return out[0] == 0x7FFFFFFF ? 0 : iters * 10u * 16u;
}

__attribute__((target("avx512f,avx512bw"))) static uint64_t peak_vpmaddwd_zmm(uint64_t iters) {
  const __m512i a = _mm512_set1_epi16(3), b = _mm512_set1_epi16(5);
  __m512i c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
  __m512i t0, t1, t2, t3;
  int32_t out[16];
  uint64_t i;
  for (i = 0; i < iters; ++i) {
    __asm__ volatile(
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c0], %[c0]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c1], %[c1]\n\t"
        "vpmaddwd %[a], %[b], %[t2]\n\t vpaddd %[t2], %[c2], %[c2]\n\t"
        "vpmaddwd %[a], %[b], %[t3]\n\t vpaddd %[t3], %[c3], %[c3]\n\t"
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c4], %[c4]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c5], %[c5]\n\t"
        "vpmaddwd %[a], %[b], %[t2]\n\t vpaddd %[t2], %[c6], %[c6]\n\t"
        "vpmaddwd %[a], %[b], %[t3]\n\t vpaddd %[t3], %[c7], %[c7]\n\t"
        "vpmaddwd %[a], %[b], %[t0]\n\t vpaddd %[t0], %[c8], %[c8]\n\t"
        "vpmaddwd %[a], %[b], %[t1]\n\t vpaddd %[t1], %[c9], %[c9]\n\t"
        "vpmaddwd %[a], %[b], %[t2]\n\t vpaddd %[t2], %[c10], %[c10]\n\t"
        "vpmaddwd %[a], %[b], %[t3]\n\t vpaddd %[t3], %[c11], %[c11]\n\t"
        : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5),
          [c6] "+v"(c6), [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11),
          [t0] "=&v"(t0), [t1] "=&v"(t1), [t2] "=&v"(t2), [t3] "=&v"(t3)
        : [a] "v"(a), [b] "v"(b));
  }
  c0 = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                        _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  c0 = _mm512_add_epi32(c0, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  _mm512_storeu_si512((void *)out, c0);
  return out[0] == 0x7FFFFFFF ? 0 : iters * 12u * 32u;
}

__attribute__((target("avx512f,avx512vnni"))) static uint64_t peak_vpdpbusd_zmm(uint64_t iters) {
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
  __m512i c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
  int32_t out[16];
  uint64_t i;
  for (i = 0; i < iters; ++i) {
    __asm__ volatile(
        "vpdpbusd %[b], %[a], %[c0]\n\t vpdpbusd %[b], %[a], %[c1]\n\t vpdpbusd %[b], %[a], %[c2]\n\t"
        "vpdpbusd %[b], %[a], %[c3]\n\t vpdpbusd %[b], %[a], %[c4]\n\t vpdpbusd %[b], %[a], %[c5]\n\t"
        "vpdpbusd %[b], %[a], %[c6]\n\t vpdpbusd %[b], %[a], %[c7]\n\t vpdpbusd %[b], %[a], %[c8]\n\t"
        "vpdpbusd %[b], %[a], %[c9]\n\t vpdpbusd %[b], %[a], %[c10]\n\t vpdpbusd %[b], %[a], %[c11]\n\t"
        : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5),
          [c6] "+v"(c6), [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11)
        : [a] "v"(a), [b] "v"(b));
  }
  c0 = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                        _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  c0 = _mm512_add_epi32(c0, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  _mm512_storeu_si512((void *)out, c0);
  return out[0] == 0x7FFFFFFF ? 0 : iters * 12u * 64u;
}

#define PE_HAVE_PEAK_X86 1
#endif

uint64_t pe_bench_peak_loop(uint32_t kind, uint64_t iters) {
#ifndef PE_HAVE_PEAK_X86
  (void)kind;
  (void)iters;
  return 0;
#else
  const uint32_t have = pe_cpu_features();
  switch (kind) {
    case PE_PEAK_VPMADDWD_YMM: return (have & PE_FEAT_AVX2) ? peak_vpmaddwd_ymm(iters) : 0;
    case PE_PEAK_VPMADDWD_ZMM: return (have & PE_FEAT_AVX512) ? peak_vpmaddwd_zmm(iters) : 0;
    case PE_PEAK_VPDPBUSD_ZMM: return (have & PE_FEAT_AVX512VNNI) ? peak_vpdpbusd_zmm(iters) : 0;
    default: return 0;
  }
#endif
}
