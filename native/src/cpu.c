/* CPU feature detection: once, at interpreter set-up; capped by PYEDGE_ISA. */
#include <string.h>

#include "pyedge.h"

#if defined(__linux__) || defined(__APPLE__) || defined(_WIN32)
#define PE_HAVE_GETENV 1
#include <stdlib.h>
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define PE_X86 1
#include <cpuid.h>
static uint64_t pe_xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0)); /* xgetbv */
  return ((uint64_t)hi << 32) | lo;
}
#endif

#if defined(__linux__) && (defined(__aarch64__) || defined(__arm__))
#define PE_ARM_LINUX 1
#include <sys/auxv.h>
#endif

uint32_t pe_cpu_features(void) {
  uint32_t f = 0;
#if defined(PE_X86)
  uint32_t a, b, c, d, max_leaf;
  uint64_t xcr0 = 0;
  max_leaf = __get_cpuid_max(0, NULL);
  if (max_leaf < 7 || !__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & (1u << 27)) || !(c & (1u << 28))) return 0; /* OSXSAVE, AVX */
  xcr0 = pe_xgetbv0();
  if ((xcr0 & 6u) != 6u) return 0;                       /* OS saves xmm and ymm */
  {
    const int fma = (c >> 12) & 1u;
    __cpuid_count(7, 0, a, b, c, d);
    if (((b >> 5) & 1u) && fma) f |= PE_FEAT_AVX2;
    /* AVX-512 F (16), DQ (17), BW (30), VL (31); OS saves opmask, zmm0-15 high, zmm16-31 */
    if ((f & PE_FEAT_AVX2) && (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) &&
        (b & (1u << 31)) && (xcr0 & 0xE0u) == 0xE0u) {
      f |= PE_FEAT_AVX512;
      if (c & (1u << 11)) f |= PE_FEAT_AVX512VNNI;
    }
    __cpuid_count(7, 1, a, b, c, d);
    if ((f & PE_FEAT_AVX2) && (a & (1u << 4))) f |= PE_FEAT_AVXVNNI;
  }
#elif defined(PE_ARM_LINUX) && defined(__aarch64__)
  {
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f |= PE_FEAT_NEON;                      /* Advanced SIMD is mandatory on AArch64 Linux */
    if (hw & (1ul << 20)) f |= PE_FEAT_DOTPROD; /* HWCAP_ASIMDDP */
    if (hw2 & (1ul << 13)) f |= PE_FEAT_I8MM;   /* HWCAP2_I8MM */
  }
#elif defined(PE_ARM_LINUX)
  if (getauxval(AT_HWCAP) & (1ul << 12)) f |= PE_FEAT_NEON; /* HWCAP_NEON */
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  f |= PE_FEAT_MVE | PE_FEAT_DSP;
#elif defined(__ARM_FEATURE_DSP)
  f |= PE_FEAT_DSP;
#elif defined(__aarch64__)
  f |= PE_FEAT_NEON;
#endif
  return f;
}

static const struct {
  const char *name;
  uint32_t bit;
} feature_names[] = {{"avx2", PE_FEAT_AVX2},       {"avx512", PE_FEAT_AVX512},
                     {"avx512vnni", PE_FEAT_AVX512VNNI}, {"avxvnni", PE_FEAT_AVXVNNI},
                     {"neon", PE_FEAT_NEON},       {"dotprod", PE_FEAT_DOTPROD},
                     {"i8mm", PE_FEAT_I8MM},       {"dsp", PE_FEAT_DSP},
                     {"mve", PE_FEAT_MVE}};

const char *pe_feature_name(uint32_t bit) {
  size_t i;
  for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); ++i)
    if (feature_names[i].bit == bit) return feature_names[i].name;
  return NULL;
}

uint32_t pe_features_for_tier(const char *tier) {
  /* each tier allows its own feature and those of the tiers below it */
  if (tier == NULL) return 0xFFFFFFFFu;
  if (strcmp(tier, "all") == 0) return 0xFFFFFFFFu;
  if (strcmp(tier, "scalar") == 0) return 0;
  if (strcmp(tier, "avx2") == 0) return PE_FEAT_AVX2;
  if (strcmp(tier, "avxvnni") == 0) return PE_FEAT_AVX2 | PE_FEAT_AVXVNNI;
  if (strcmp(tier, "avx512") == 0) return PE_FEAT_AVX2 | PE_FEAT_AVX512;
  if (strcmp(tier, "avx512vnni") == 0)
    return PE_FEAT_AVX2 | PE_FEAT_AVXVNNI | PE_FEAT_AVX512 | PE_FEAT_AVX512VNNI;
  if (strcmp(tier, "neon") == 0) return PE_FEAT_NEON;
  if (strcmp(tier, "dotprod") == 0) return PE_FEAT_NEON | PE_FEAT_DOTPROD;
  if (strcmp(tier, "i8mm") == 0) return PE_FEAT_NEON | PE_FEAT_DOTPROD | PE_FEAT_I8MM;
  if (strcmp(tier, "dsp") == 0) return PE_FEAT_DSP;
  if (strcmp(tier, "mve") == 0 || strcmp(tier, "helium") == 0) return PE_FEAT_DSP | PE_FEAT_MVE;
  return 0xFFFFFFFFu;
}

uint32_t pe_detect_features(void) {
  uint32_t f = pe_cpu_features();
#ifdef PE_HAVE_GETENV
  {
    const char *cap = getenv("PYEDGE_ISA");
    if (cap == NULL || cap[0] == '\0') cap = getenv("PYEDGE_MAX_ISA"); /* older name */
    if (cap != NULL && cap[0] != '\0') f &= pe_features_for_tier(cap);
  }
#endif
  return f;
}
