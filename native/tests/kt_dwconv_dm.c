/* One-input-channel depthwise row kernels (qs8_dwconv_dm.h): the scalar twin against the op's
 * arithmetic written out here from the unpacked filter, then every SIMD row kernel this run's
 * features allow against the scalar twin, bit for bit, with a canary after every output row. */
#include <string.h>

#include "conv.h"
#include "kt.h"
#include "qs8_dwconv_dm.h"

#define MAX_M 129
#define MAX_H 14
#define MAX_W 70
#define MAX_TAPS (10 * 8)
#define OUT_PAD 64 /* canary bytes after every output row */

static int8_t in_[MAX_H * MAX_W], filt_[MAX_TAPS * MAX_M];
static int32_t bias_[MAX_M], mult_[MAX_M], shift_[MAX_M];
static int32_t packed_[(MAX_M + 8) * (1 + MAX_TAPS / 2 + 1)];
static int8_t out_ref_[MAX_W * MAX_M + OUT_PAD], out_a_[MAX_W * MAX_M + OUT_PAD];
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define SCRATCH_BYTES 8448 /* what the cases below need at most: the M55 board's 512 KiB hold kt_gemm's buffers too */
#else
#define SCRATCH_BYTES 32768
#endif
static uint64_t scratch_[SCRATCH_BYTES / 8]; /* the SIMD kernels' scratch of one thread */

typedef struct {
  const char *name;
  pe_qs8_dwdm_fn fn;
  uint32_t features;
  const char *feature;
} kt_dwdm_variant;

static const kt_dwdm_variant simd_[] = {
#if PE_X86_KERNELS
    {"pe_qs8_dwdm_row__avx2", pe_qs8_dwdm_row__avx2, PE_FEAT_AVX2, "avx2"},
    {"pe_qs8_dwdm_row__avx512", pe_qs8_dwdm_row__avx512, PE_FEAT_AVX512, "avx512"},
    {"pe_qs8_dwdm_row__avx512vnni", pe_qs8_dwdm_row__avx512vnni, PE_FEAT_AVX512VNNI, "avx512vnni"},
#endif
#if PE_NEON_KERNELS
    {"pe_qs8_dwdm_row__neon", pe_qs8_dwdm_row__neon, PE_FEAT_NEON, "neon"},
#endif
#if PE_ARM64_KERNELS
    {"pe_qs8_dwdm_row__neondot", pe_qs8_dwdm_row__neondot, PE_FEAT_DOTPROD, "dotprod"},
#endif
#if PE_MVE_KERNELS
    {"pe_qs8_dwdm_row__mve", pe_qs8_dwdm_row__mve, PE_FEAT_MVE, "mve"},
#endif
    {NULL, NULL, 0, NULL}};

static int32_t out_dim(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad) {
  const int32_t span = in + 2 * pad - (k - 1) * dil;
  return span < 1 ? 0 : (span - 1) / stride + 1;
}

static int8_t datum(kt_state *s, int mode) {
  switch (mode) {
    case 1: return (int8_t)(kt_rand(s) & 1 ? 127 : -128);
    case 2: return -128;
    case 3: return 127;
    default: return (int8_t)kt_range(s, -128, 127);
  }
}

/* out[ox * m + c] of row oy from the unpacked filter [kh][kw][m] */
static int8_t formula(const pe_qs8_dwdm_args *a, const int32_t *bias, int32_t oy, int32_t ox, int32_t c) {
  uint32_t acc = bias != NULL ? (uint32_t)bias[c] : 0u;
  int32_t fy, fx;
  for (fy = 0; fy < a->kh; ++fy)
    for (fx = 0; fx < a->kw; ++fx) {
      const int32_t iy = oy * a->stride_h - a->pad_h + fy * a->dilation_h;
      const int32_t ix = ox * a->stride_w - a->pad_w + fx * a->dilation_w;
      if (iy >= 0 && iy < a->in_h && ix >= 0 && ix < a->in_w)
        acc += (uint32_t)(filt_[(fy * a->kw + fx) * a->channels + c] * (a->input[iy * a->in_w + ix] + a->input_offset));
    }
  return (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, 0, a->mult[c], a->shift[c], a->output_offset, a->act_min,
                                   a->act_max);
}

static void one_case(kt_state *s, int32_t m, int32_t kh, int32_t kw, int check_formula) {
  static const int32_t offsets[] = {-127, 128, 0, 1, -1};
  pe_qs8_dwdm_args a;
  const int mode = (int)(kt_rand(s) % 4);
  int32_t i, c, oy, out_h, taps = kh * kw;
  const int32_t *bias;
  const kt_dwdm_variant *v;
  void *scratch;
  char detail[256];
  memset(&a, 0, sizeof a);
  a.channels = m;
  a.kh = kh;
  a.kw = kw;
  a.stride_h = kt_range(s, 1, 3);
  a.stride_w = kt_rand(s) % 2 ? 2 : kt_range(s, 1, 3);
  a.dilation_h = kt_range(s, 1, 2);
  a.dilation_w = kt_rand(s) % 3 ? 1 : 2;
  a.pad_h = kt_range(s, 0, kh / 2 * a.dilation_h + (kt_rand(s) % 4 == 0));
  a.pad_w = kt_range(s, 0, kw / 2 * a.dilation_w + (kt_rand(s) % 4 == 0));
  a.in_h = kt_range(s, 1, MAX_H);
  a.in_w = kt_rand(s) % 3 ? kt_range(s, 1, MAX_W) : kt_range(s, 1, 9);
  out_h = out_dim(a.in_h, kh, a.stride_h, a.dilation_h, a.pad_h);
  a.out_w = out_dim(a.in_w, kw, a.stride_w, a.dilation_w, a.pad_w);
  if (out_h < 1 || a.out_w < 1 || a.out_w > MAX_W) return;
  /* operands at the end of their arrays: a read past one runs into the array's end */
  a.input = in_ + sizeof in_ - (size_t)(a.in_h * a.in_w);
  for (i = 0; i < a.in_h * a.in_w; ++i) ((int8_t *)a.input)[i] = datum(s, mode);
  for (i = 0; i < taps * m; ++i) filt_[i] = datum(s, mode == 0 ? 0 : 1);
  {
    int32_t *b = bias_ + MAX_M - m, *mu = mult_ + MAX_M - m, *sh = shift_ + MAX_M - m;
    const int bias_mode = (int)(kt_rand(s) % 4);
    for (c = 0; c < m; ++c) {
      switch (bias_mode) {
        case 0: b[c] = kt_range(s, -100000, 100000); break;
        case 1: b[c] = (int32_t)kt_rand(s); break;
        case 2: b[c] = INT32_MAX - kt_range(s, 0, 200000); break;
        default: b[c] = INT32_MIN + kt_range(s, 0, 200000); break;
      }
      mu[c] = kt_rand(s) % 8 == 0 ? 0x7FFFFFFF : (int32_t)(0x40000000u + kt_rand(s) % 0x40000000u);
      sh[c] = kt_rand(s) % 4 ? kt_range(s, -12, 2) : kt_range(s, -31, 30);
    }
    bias = kt_rand(s) % 5 ? b : NULL;
    a.mult = mu;
    a.shift = sh;
  }
  a.input_offset = kt_rand(s) % 3 ? kt_range(s, -127, 128) : offsets[kt_rand(s) % 5];
  a.output_offset = kt_range(s, -128, 127);
  a.act_min = -128;
  a.act_max = 127;
  if (kt_rand(s) % 3 == 0) {
    a.act_min = kt_range(s, -128, 0);
    a.act_max = kt_range(s, a.act_min, 127);
  }
  {
    const uint32_t bytes = pe_qs8_dwdm_packed_bytes(m, kh, kw);
    int32_t *p = packed_ + sizeof packed_ / 4 - bytes / 4;
    pe_qs8_dwdm_pack(m, kh, kw, filt_, bias, p);
    a.packed = p;
  }
  scratch = scratch_;
  if (pe_qs8_dwdm_scratch_bytes(a.out_w, kh, kw, a.stride_w, a.dilation_w, 1) > sizeof scratch_) {
    kt_check(s, 0, "pe_qs8_dwdm_scratch_bytes", "more than the test's scratch");
    return;
  }
  sprintf(detail, "m %d k %dx%d in %dx%d stride %dx%d dil %dx%d pad %dx%d in_off %d clamp [%d, %d] mode %d bias %s",
          (int)m, (int)kh, (int)kw, (int)a.in_h, (int)a.in_w, (int)a.stride_h, (int)a.stride_w, (int)a.dilation_h,
          (int)a.dilation_w, (int)a.pad_h, (int)a.pad_w, (int)a.input_offset, (int)a.act_min, (int)a.act_max, mode,
          bias ? "yes" : "NULL");
  if (check_formula) {
    int ok = 1, ox;
    for (oy = 0; oy < out_h && ok; ++oy) {
      memset(out_ref_, KT_CANARY, sizeof out_ref_);
      pe_qs8_dwdm_row__scalar(&a, oy, out_ref_, NULL);
      for (i = 0; i < OUT_PAD && ok; ++i) ok = (uint8_t)out_ref_[a.out_w * m + i] == KT_CANARY;
      for (ox = 0; ox < a.out_w && ok; ++ox)
        for (c = 0; c < m && ok; ++c) ok = out_ref_[ox * m + c] == formula(&a, bias, oy, ox, c);
    }
    kt_check(s, ok, "pe_qs8_dwdm_row__scalar", detail);
  }
  for (v = simd_; v->name != NULL; ++v) {
    int ok = 1;
    const size_t n = (size_t)a.out_w * (size_t)m;
    if ((s->features & v->features) != v->features) continue;
    for (oy = 0; oy < out_h && ok; ++oy) {
      memset(out_ref_, KT_CANARY, sizeof out_ref_);
      memset(out_a_, KT_CANARY, sizeof out_a_);
      pe_qs8_dwdm_row__scalar(&a, oy, out_ref_, NULL);
      v->fn(&a, oy, out_a_, scratch);
      ok = memcmp(out_ref_, out_a_, n + OUT_PAD) == 0;
    }
    kt_check(s, ok, v->name, detail);
  }
}

void kt_dwconv_dm(kt_state *s) {
  static const int32_t ms[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 127, 129};
  static const int32_t ksz[][2] = {{3, 3}, {1, 1}, {10, 8}, {5, 5}, {3, 5}, {2, 3}, {1, 7}, {4, 6}, {3, 2}};
  const kt_dwdm_variant *v;
  size_t mi, ki;
  int rep;
  for (v = simd_; v->name != NULL; ++v)
    if ((s->features & v->features) != v->features) kt_skip(s, v->name, v->feature);
  for (mi = 0; mi < sizeof ms / sizeof ms[0]; ++mi)
    for (ki = 0; ki < sizeof ksz / sizeof ksz[0]; ++ki)
      for (rep = 0; rep < (ms[mi] == 8 ? 6 : 2); ++rep) one_case(s, ms[mi], ksz[ki][0], ksz[ki][1], rep == 0);
  /* more taps than a kernel's tables hold at once (the Helium kernel's 128 tap offsets) */
  for (rep = 0; rep < 4; ++rep) {
    one_case(s, rep % 2 ? 3 : 17, 1, 151, 1);
    one_case(s, rep % 2 ? 9 : 2, 2, 75, 1);
  }
}
