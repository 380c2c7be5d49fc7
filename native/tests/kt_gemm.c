/* GEMM microkernels: the pack function and scalar twin against TFLite's formula on the unpacked
 * weights, then every SIMD variant against the scalar twin, over tile-breaking sizes. */
#include <string.h>

#include "conv.h"
#include "gemm_drivers.h"
#include "kt.h"
#include "qs8_gemm.h"

#define MAX_OC 129
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define MAX_K 520 /* the buffers fit the M55 board's 512 KiB beside the other suites; still past 512 */
#else
#define MAX_K 1000
#endif
#define MAX_MR 8
#define STRIDE_PAD 7

typedef struct {
  const char *name;
  pe_qs8_gemm_fn fn;
  uint32_t mr;
  uint32_t features;
  const char *feature;
} kt_variant;

static int8_t w_[MAX_OC * MAX_K];
static int32_t bias_[MAX_OC], mult_[MAX_OC], shift_[MAX_OC], rowadd_[MAX_MR];
static uint8_t packed_[16 * 144 + 144 * MAX_K];
static int8_t x_[MAX_MR * (MAX_K + STRIDE_PAD)];
static uint8_t panel_[MAX_MR * (MAX_K + 4 + STRIDE_PAD)];
static int8_t out_ref_[MAX_MR * (MAX_OC + STRIDE_PAD)], out_a_[MAX_MR * (MAX_OC + STRIDE_PAD)],
    out_b_[MAX_MR * (MAX_OC + STRIDE_PAD)];

/* The whole op for mr rows through one microkernel: every 16-channel block. */
static void run(const kt_variant *v, int32_t mr, int32_t oc, int32_t k, size_t a_stride, int32_t out_off,
                int32_t lo, int32_t hi, int8_t *out, size_t c_stride, const int32_t *rowadd) {
  const int32_t ocp = (oc + 15) / 16 * 16, kp = (k + 3) / 4 * 4;
  const int32_t *init = (const int32_t *)packed_, *m = init + 2 * ocp, *s = m + ocp;
  const int8_t *w = (const int8_t *)(packed_ + 16 * ocp);
  int32_t b, r0;
  for (r0 = 0; r0 < mr; r0 += (int32_t)v->mr) {
    const int32_t n = mr - r0 < (int32_t)v->mr ? mr - r0 : (int32_t)v->mr;
    for (b = 0; b < ocp / 16; ++b) {
      const int32_t nc = oc - 16 * b < 16 ? oc - 16 * b : 16;
      v->fn((size_t)n, (size_t)nc, (size_t)kp, panel_ + (size_t)r0 * a_stride, a_stride, w + (size_t)b * kp * 16,
            init + 16 * b, m + 16 * b, s + 16 * b, out_off, lo, hi, out + (size_t)r0 * c_stride + 16 * b, c_stride,
            rowadd != NULL ? rowadd + r0 : NULL);
    }
  }
}

static int canaries_ok(const int8_t *out, int32_t mr, int32_t oc, size_t c_stride) {
  int32_t r;
  size_t j;
  for (r = 0; r < mr; ++r)
    for (j = (size_t)oc; j < c_stride; ++j)
      if ((uint8_t)out[r * c_stride + j] != KT_CANARY) return 0;
  return 1;
}

static void one_case(kt_state *s, const kt_variant *vs, int nv, int32_t oc, int32_t k, int32_t mr) {
  const int32_t kp = (k + 3) / 4 * 4;
  const size_t a_stride = (size_t)kp + (size_t)(kt_rand(s) % 2) * 4 * (1 + kt_rand(s) % 2);
  const size_t c_stride = (size_t)oc + 1 + kt_rand(s) % STRIDE_PAD;
  const int32_t in_off = kt_range(s, -127, 128), out_off = kt_range(s, -128, 127);
  const int mode = (int)(kt_rand(s) % 4); /* 0 random, 1 extremes, 2 all -128, 3 all 127 */
  int32_t lo = -128, hi = 127, r, n, j, i;
  /* per-row terms (uint8 convolutions' weight zero point term), any int32: the sums wrap */
  const int32_t *rowadd = kt_rand(s) % 2 ? rowadd_ : NULL;
  char detail[160];
  for (r = 0; r < mr; ++r) rowadd_[r] = kt_rand(s) % 3 == 0 ? (int32_t)kt_rand(s) : kt_range(s, -300000, 300000);
  if (kt_rand(s) % 3 == 0) {
    lo = kt_range(s, -128, 0);
    hi = kt_range(s, lo, 127);
  }
  for (i = 0; i < oc * k; ++i)
    w_[i] = (int8_t)(mode == 1 ? (kt_rand(s) & 1 ? 127 : -128) : kt_range(s, -128, 127));
  for (i = 0; i < mr * k; ++i)
    x_[i] = (int8_t)(mode == 2 ? -128 : mode == 3 ? 127 : mode == 1 ? (kt_rand(s) & 1 ? 127 : -128) : kt_range(s, -128, 127));
  for (n = 0; n < oc; ++n) {
    bias_[n] = (int32_t)kt_rand(s); /* any int32: the sum wraps as TFLite's does */
    if (kt_rand(s) % 4 == 0) bias_[n] = kt_range(s, -1000, 1000);
    mult_[n] = (int32_t)(0x40000000u + kt_rand(s) % 0x40000000u);
    if (kt_rand(s) % 5 == 0) mult_[n] = (int32_t)(kt_rand(s) % 0x7FFFFFFFu);
    shift_[n] = kt_rand(s) % 3 == 0 ? kt_range(s, -31, 30) : kt_range(s, -12, 2);
  }
  pe_qs8_gemm_pack(oc, k, w_, bias_, mult_, shift_, in_off, packed_);
  /* the panel: x ^ 0x80, K padded */
  for (r = 0; r < mr; ++r) {
    for (i = 0; i < k; ++i) panel_[r * a_stride + i] = (uint8_t)((uint8_t)x_[r * k + i] ^ 0x80u);
    for (; i < (int32_t)a_stride; ++i) panel_[r * a_stride + i] = (uint8_t)kt_rand(s); /* never read as data */
  }
  for (r = 0; r < mr; ++r)
    for (n = 0; n < oc; ++n) {
      uint32_t acc = rowadd != NULL ? (uint32_t)rowadd[r] : 0u;
      for (j = 0; j < k; ++j) acc += (uint32_t)((int32_t)w_[n * k + j] * ((int32_t)x_[r * k + j] + in_off));
      out_ref_[r * c_stride + n] =
          (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, bias_[n], mult_[n], shift_[n], out_off, lo, hi);
    }
  memset(out_a_, KT_CANARY, sizeof out_a_);
  run(&vs[0], mr, oc, k, a_stride, out_off, lo, hi, out_a_, c_stride, rowadd);
  {
    int ok = canaries_ok(out_a_, mr, oc, c_stride);
    for (r = 0; r < mr && ok; ++r) ok = memcmp(out_a_ + r * c_stride, out_ref_ + r * c_stride, (size_t)oc) == 0;
    sprintf(detail, "%s vs TFLite formula: oc %d k %d mr %d in_off %d mode %d rowadd %d", vs[0].name, (int)oc, (int)k,
            (int)mr, (int)in_off, mode, rowadd != NULL);
    kt_check(s, ok, "gemm scalar twin", detail);
  }
  for (i = 1; i < nv; ++i) {
    int ok;
    if ((s->features & vs[i].features) != vs[i].features) continue;
    memset(out_b_, KT_CANARY, sizeof out_b_);
    run(&vs[i], mr, oc, k, a_stride, out_off, lo, hi, out_b_, c_stride, rowadd);
    ok = canaries_ok(out_b_, mr, oc, c_stride);
    for (r = 0; r < mr && ok; ++r) ok = memcmp(out_a_ + r * c_stride, out_b_ + r * c_stride, (size_t)oc) == 0;
    sprintf(detail, "%s vs scalar: oc %d k %d mr %d in_off %d mode %d rowadd %d", vs[i].name, (int)oc, (int)k,
            (int)mr, (int)in_off, mode, rowadd != NULL);
    kt_check(s, ok, vs[i].name, detail);
  }
}

/* The panel's flip copies against the scalar twin: every length to 200 and a few long ones, copying
   and in place, misaligned, with canaries on both sides. */
static void kt_flip(kt_state *s) {
  typedef struct {
    const char *name;
    pe_qs8_flip_fn fn;
    uint32_t features;
    const char *feature;
  } flip_variant;
  static const flip_variant vs[] = {
#if PE_X86_KERNELS
      {"pe_qs8_flip__avx2", pe_qs8_flip__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_flip__avx512", pe_qs8_flip__avx512, PE_FEAT_AVX512, "avx512"},
#endif
      {NULL, NULL, 0, NULL}};
  static int8_t src[1100];
  static uint8_t ref[1100], got[1100];
  char detail[120];
  int v;
  for (v = 0; vs[v].fn != NULL; ++v) {
    size_t n;
    if ((s->features & vs[v].features) != vs[v].features) {
      kt_skip(s, vs[v].name, vs[v].feature);
      continue;
    }
    for (n = 0; n <= 1030; n += n < 200 ? 1 : 83) {
      const size_t off = 1 + kt_rand(s) % 31;
      const uint8_t flip = kt_rand(s) % 4 == 0 ? 0u : 0x80u;
      int inplace, ok;
      size_t i;
      for (i = 0; i < sizeof src; ++i) src[i] = (int8_t)kt_rand(s);
      for (inplace = 0; inplace < 2; ++inplace) {
        memset(ref, KT_CANARY, sizeof ref);
        memset(got, KT_CANARY, sizeof got);
        if (inplace) {
          memcpy(ref + off, src + off, n);
          memcpy(got + off, src + off, n);
          pe_qs8_flip__scalar(ref + off, (const int8_t *)(ref + off), n, flip);
          vs[v].fn(got + off, (const int8_t *)(got + off), n, flip);
        } else {
          pe_qs8_flip__scalar(ref + off, src + off, n, flip);
          vs[v].fn(got + off, src + off, n, flip);
        }
        ok = memcmp(ref, got, sizeof ref) == 0;
        for (i = 0; i < n && ok; ++i) ok = ref[off + i] == (uint8_t)((uint8_t)src[off + i] ^ flip);
        sprintf(detail, "%s vs scalar: n %u offset %u flip 0x%02x %s", vs[v].name, (unsigned)n, (unsigned)off,
                (unsigned)flip, inplace ? "in place" : "copy");
        kt_check(s, ok, vs[v].name, detail);
      }
    }
  }
}

void kt_gemm(kt_state *s) {
  static const int32_t ocs[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129};
  static const int32_t ks[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 127, 129, MAX_K};
  const kt_variant vs[] = {
      {"pe_qs8_gemm_1x16c4__scalar", pe_qs8_gemm_1x16c4__scalar, 1, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs8_gemm_4x16c4__avx2", pe_qs8_gemm_4x16c4__avx2, 4, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_gemm_1x16c4__avx2", pe_qs8_gemm_1x16c4__avx2, 1, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_gemm_8x16c4__avx512vnni", pe_qs8_gemm_8x16c4__avx512vnni, 8, PE_FEAT_AVX512VNNI, "avx512vnni"},
      {"pe_qs8_gemm_1x16c4__avx512vnni", pe_qs8_gemm_1x16c4__avx512vnni, 1, PE_FEAT_AVX512VNNI, "avx512vnni"},
#endif
#if PE_ARM64_KERNELS
      {"pe_qs8_gemm_2x16c4__neon", pe_qs8_gemm_2x16c4__neon, 2, PE_FEAT_NEON, "neon"},
      {"pe_qs8_gemm_4x16c4__neondot", pe_qs8_gemm_4x16c4__neondot, 4, PE_FEAT_DOTPROD, "dotprod"},
      {"pe_qs8_gemm_4x16c4__neoni8mm", pe_qs8_gemm_4x16c4__neoni8mm, 4, PE_FEAT_I8MM, "i8mm"},
#elif PE_ARMV7_NEON_KERNELS
      {"pe_qs8_gemm_1x16c4__neon", pe_qs8_gemm_1x16c4__neon, 1, PE_FEAT_NEON, "neon"},
#endif
#if PE_MVE_KERNELS
      {"pe_qs8_gemm_4x16c4__mve", pe_qs8_gemm_4x16c4__mve, 4, PE_FEAT_MVE, "mve"},
#endif
#if PE_DSP_KERNELS
      {"pe_qs8_gemm_8x16c4__dsp", pe_qs8_gemm_8x16c4__dsp, 8, PE_FEAT_DSP, "dsp"},
      {"pe_qs8_gemm_1x16c4__dsp", pe_qs8_gemm_1x16c4__dsp, 1, PE_FEAT_DSP, "dsp"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  size_t a, b;
  int i, mr;
  for (i = 1; i < nv; ++i)
    if ((s->features & vs[i].features) != vs[i].features) kt_skip(s, vs[i].name, vs[i].feature);
  for (a = 0; a < sizeof ocs / sizeof ocs[0]; ++a)
    for (b = 0; b < sizeof ks / sizeof ks[0]; ++b)
      for (mr = 1; mr <= MAX_MR; ++mr) {
        if (ks[b] == MAX_K && mr % 3 != 1) continue; /* sample the large K */
        one_case(s, vs, nv, ocs[a], ks[b], mr);
      }
  kt_flip(s);
}
