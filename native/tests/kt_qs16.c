/* 16x8 window dot products (qs16_dot.h): the scalar twin against int64 sums written out here,
 * every SIMD variant against the twin; run lengths around the vector widths (8, 16, 32) and past
 * the int32 flush (PE_QS16_DOT_FLUSH steps), 1-3 rows of 1-3 runs with odd strides, 1-4 filters,
 * extreme values (-32768 x -128 everywhere: the largest products, all of one sign), a canary
 * after the last sum. */
#include <string.h>

#include "kt.h"
#include "pyedge.h"
#include "pe_kernel.h"
#include "conv.h"
#include "qs16_dot.h"
#include "qs16_gemm.h"
#include "qs8_gemm.h"

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define MAX_X 1200 /* fits the microcontroller boards' RAM beside the other suites */
#else
#define MAX_X 12000
#endif
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define MAX_GK 68
#else
#define MAX_GK 600 /* 150 k-groups: past the int32 flush (PE_QS16_GEMM_FLUSH) */
#endif
#define GSTRIDE_PAD 3

typedef struct {
  const char *name;
  pe_qs16_dot_fn fn;
  pe_qs16_dw_fn dw;
  uint32_t features;
  const char *feature;
} kt_qs16_variant;

static int16_t x16_[MAX_X];
static int8_t f16_[4 * MAX_X];
static int64_t ref16_[PE_QS16_DOT_NC + 1], got16_[PE_QS16_DOT_NC + 1];
#define MAX_CH 130
static int64_t dref_[MAX_CH + 1], dgot_[MAX_CH + 1];

/* the depthwise pixel kernels: channel counts around the 8 and 16 lanes, 1x1 .. 3x3 taps and
   one window of more taps than a lane takes before its flush (12 x 12 = 144), odd strides */
static void kt_qs16_dw(kt_state *s, const kt_qs16_variant *vs, int nv) {
  static const size_t chs[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129};
  static const int32_t taps[][2] = {{1, 1}, {1, 3}, {3, 1}, {2, 2}, {3, 3}, {12, 12}};
  char detail[120];
  size_t ci, ti, c, i;
  int v, rep;
  for (ci = 0; ci < sizeof chs / sizeof chs[0]; ++ci)
    for (ti = 0; ti < sizeof taps / sizeof taps[0]; ++ti)
      for (rep = 0; rep < 3; ++rep) {
        pe_qs16_taps t;
        const size_t nch = chs[ci];
        size_t xn, fn;
        int32_t r, k;
        t.rows = taps[ti][0];
        t.cols = taps[ti][1];
        t.in_col = (int32_t)nch + (rep == 1 ? 3 : 0);
        t.in_row = t.cols * t.in_col + (rep == 1 ? 5 : 0);
        t.f_col = (int32_t)nch + (rep == 1 ? 1 : 0);
        t.f_row = t.cols * t.f_col + (rep == 1 ? 2 : 0);
        xn = (size_t)t.rows * (size_t)t.in_row;
        fn = (size_t)t.rows * (size_t)t.f_row;
        if (xn > MAX_X || fn > 4 * (size_t)MAX_X) continue;
        for (i = 0; i < xn; ++i) x16_[i] = (int16_t)(rep == 2 ? -32768 : kt_range(s, -32768, 32767));
        for (i = 0; i < fn; ++i) f16_[i] = (int8_t)(rep == 2 ? -128 : kt_range(s, -128, 127));
        sprintf(detail, "channels %d taps %dx%d strides %d/%d %d/%d", (int)nch, (int)t.rows, (int)t.cols,
                (int)t.in_row, (int)t.in_col, (int)t.f_row, (int)t.f_col);
        memset(dref_, KT_CANARY, sizeof dref_);
        pe_qs16_dw_px__scalar(&t, x16_, f16_, nch, dref_);
        {
          int ok = ((uint8_t *)&dref_[nch])[0] == KT_CANARY;
          for (c = 0; c < nch && ok; ++c) {
            int64_t want = 0;
            for (r = 0; r < t.rows; ++r)
              for (k = 0; k < t.cols; ++k)
                want += (int64_t)f16_[r * t.f_row + k * t.f_col + (int32_t)c] *
                        (int64_t)x16_[r * t.in_row + k * t.in_col + (int32_t)c];
            ok = dref_[c] == want;
          }
          kt_check(s, ok, "qs16 dw scalar twin vs int64 sums", detail);
        }
        for (v = 1; v < nv; ++v) {
          if (vs[v].dw == NULL || (s->features & vs[v].features) != vs[v].features) continue;
          memset(dgot_, KT_CANARY, sizeof dgot_);
          vs[v].dw(&t, x16_, f16_, nch, dgot_);
          kt_check(s, memcmp(dgot_, dref_, (nch + 1) * sizeof(int64_t)) == 0, vs[v].name, detail);
        }
      }
}

typedef struct {
  const char *name;
  pe_qs16_gemm_fn fn;
  size_t mr;
  uint32_t features;
  const char *feature;
} kt_qs16_gemm_variant;

static int8_t gw_[16 * MAX_GK];
static uint8_t gpacked_[16 * 16 + 16 * (MAX_GK + 4)] __attribute__((aligned(16)));
static int16_t ga_[PE_QS16_GEMM_MR_MAX * (MAX_GK + 4 + GSTRIDE_PAD)];
static int64_t gref_[PE_QS16_GEMM_MR_MAX * 16 + 1], ggot_[PE_QS16_GEMM_MR_MAX * 16 + 1];

/* the 16x8 GEMM tiles on the int8 layout (packed by pe_qs8_gemm_pack, as the packer does): the
   twin against int64 sums over the unpacked weights, each SIMD tile against the twin, every row
   count up to the tile's, channel counts 16 and 7 (zero weights past them), K across the
   k-group and flush boundaries, odd panel strides */
static void kt_qs16_gemm(kt_state *s) {
  static const int32_t ks[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 511, 512, 513, MAX_GK};
  static const int32_t ocs[] = {16, 7};
  const kt_qs16_gemm_variant vs[] = {
      {"pe_qs16_gemm_1x16c4__scalar", pe_qs16_gemm_1x16c4__scalar, 1, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs16_gemm_2x16c4__avx2", pe_qs16_gemm_2x16c4__avx2, 2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs16_gemm_8x16c4__avx512", pe_qs16_gemm_8x16c4__avx512, 8, PE_FEAT_AVX512, "avx512"},
      {"pe_qs16_gemm_8x16c4__avx512vnni", pe_qs16_gemm_8x16c4__avx512vnni, 8, PE_FEAT_AVX512VNNI, "avx512vnni"},
#endif
#if PE_NEON_KERNELS
      {"pe_qs16_gemm_1x16c4__neon", pe_qs16_gemm_1x16c4__neon, 1, PE_FEAT_NEON, "neon"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  static int32_t mult[16], shift[16];
  char detail[120];
  size_t ki, oi, i, mr, r, n;
  int v, rep;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (ki = 0; ki < sizeof ks / sizeof ks[0]; ++ki)
    for (oi = 0; oi < 2; ++oi)
      for (rep = 0; rep < 3; ++rep) {
        const int32_t k = ks[ki], oc = ocs[oi];
        const size_t kp = ((size_t)k + 3) / 4 * 4, stride = kp + (rep == 1 ? GSTRIDE_PAD : 0);
        const int8_t *w;
        if (k > MAX_GK) continue;
        for (i = 0; i < (size_t)(oc * k); ++i) gw_[i] = (int8_t)(rep == 2 ? -128 : kt_range(s, -128, 127));
        for (i = 0; i < 16; ++i) {
          mult[i] = 1 << 30;
          shift[i] = 0;
        }
        pe_qs8_gemm_pack(oc, k, gw_, NULL, mult, shift, 128, gpacked_);
        w = (const int8_t *)(gpacked_ + 16 * 16);
        for (i = 0; i < sizeof ga_ / sizeof ga_[0]; ++i) ga_[i] = (int16_t)(rep == 2 ? -32768 : kt_range(s, -32768, 32767));
        for (r = 0; r < PE_QS16_GEMM_MR_MAX; ++r)
          for (i = (size_t)k; i < kp; ++i) ga_[r * stride + i] = (int16_t)kt_range(s, -32768, 32767); /* x zero weights */
        for (mr = 1; mr <= PE_QS16_GEMM_MR_MAX; ++mr) {
          int ok;
          sprintf(detail, "mr %d k %d oc %d stride %d", (int)mr, (int)k, (int)oc, (int)stride);
          memset(gref_, KT_CANARY, sizeof gref_);
          pe_qs16_gemm_1x16c4__scalar(mr, kp, ga_, stride, w, gref_);
          ok = ((uint8_t *)&gref_[mr * 16])[0] == KT_CANARY;
          for (r = 0; r < mr && ok; ++r)
            for (n = 0; n < 16 && ok; ++n) {
              int64_t want = 0;
              int32_t j;
              if ((int32_t)n < oc)
                for (j = 0; j < k; ++j) want += (int64_t)gw_[n * (size_t)k + (size_t)j] * ga_[r * stride + (size_t)j];
              ok = gref_[r * 16 + n] == want;
            }
          kt_check(s, ok, "qs16 gemm scalar twin vs int64 sums", detail);
          for (v = 1; v < nv; ++v) {
            if (mr > vs[v].mr || (s->features & vs[v].features) != vs[v].features) continue;
            memset(ggot_, KT_CANARY, sizeof ggot_);
            vs[v].fn(mr, kp, ga_, stride, w, ggot_);
            kt_check(s, memcmp(ggot_, gref_, (mr * 16 + 1) * sizeof(int64_t)) == 0, vs[v].name, detail);
          }
        }
      }
}

static int64_t racc_[40], rbias_[40];
static int32_t rmult_[40], rshift_[40];
static int16_t rref_[41];
#if PE_X86_KERNELS
static int16_t rgot_[41];
#endif

/* the int64 requantization: the twin against pe_conv_requant64, the SIMD one against the twin;
   sums up to +-2^52 (past the +-(2^48 - 1) clamp), every shift the 64-bit path allows, with and
   without a bias, clamps at the int16 ends and inside */
static void kt_qs16_requant(kt_state *s) {
  static const size_t ncs[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 40};
  char detail[80];
  size_t ni, i;
  int rep;
  for (ni = 0; ni < sizeof ncs / sizeof ncs[0]; ++ni)
    for (rep = 0; rep < 40; ++rep) {
      const size_t nc = ncs[ni];
      const int use_bias = rep % 2 == 0;
      const int32_t lo = rep % 3 == 0 ? -32768 : kt_range(s, -32768, 0), hi = rep % 3 == 0 ? 32767 : kt_range(s, 0, 32767);
      int ok = 1;
      for (i = 0; i < nc; ++i) {
        const int bits = 20 + (int)(kt_rand(s) % 33);
        racc_[i] = (int64_t)(((uint64_t)kt_rand(s) << 32) | kt_rand(s)) >> (64 - bits);
        rbias_[i] = (int64_t)(((uint64_t)kt_rand(s) << 32) | kt_rand(s)) >> (64 - 40);
        rmult_[i] = kt_multiplier(s);
        rshift_[i] = kt_range(s, PE_CONV_SHIFT_MIN, PE_CONV_SHIFT_MAX_64);
      }
      sprintf(detail, "nc %d bias %d clamp %d..%d", (int)nc, use_bias, (int)lo, (int)hi);
      memset(rref_, KT_CANARY, sizeof rref_);
      pe_qs16_requant64__scalar(nc, racc_, use_bias ? rbias_ : NULL, rmult_, rshift_, lo, hi, rref_);
      ok = ((uint8_t *)&rref_[nc])[0] == KT_CANARY;
      for (i = 0; i < nc && ok; ++i)
        ok = rref_[i] == (int16_t)pe_conv_requant64(racc_[i], use_bias ? rbias_[i] : 0, rmult_[i], rshift_[i], lo, hi);
      kt_check(s, ok, "qs16 requant64 scalar twin vs pe_conv_requant64", detail);
#if PE_X86_KERNELS
      if ((s->features & PE_FEAT_AVX512) == PE_FEAT_AVX512) {
        memset(rgot_, KT_CANARY, sizeof rgot_);
        pe_qs16_requant64__avx512(nc, racc_, use_bias ? rbias_ : NULL, rmult_, rshift_, lo, hi, rgot_);
        kt_check(s, memcmp(rgot_, rref_, (nc + 1) * sizeof(int16_t)) == 0, "pe_qs16_requant64__avx512", detail);
      }
#endif
    }
#if PE_X86_KERNELS
  if ((s->features & PE_FEAT_AVX512) != PE_FEAT_AVX512) kt_skip(s, "pe_qs16_requant64__avx512", "avx512");
#endif
}

void kt_qs16(kt_state *s) {
  static const int32_t lens[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 127, 129, 1031, 4500, 9000};
  const kt_qs16_variant vs[] = {
      {"pe_qs16_dot_4c__scalar", pe_qs16_dot_4c__scalar, pe_qs16_dw_px__scalar, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs16_dot_4c__avx2", pe_qs16_dot_4c__avx2, pe_qs16_dw_px__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs16_dot_4c__avx512", pe_qs16_dot_4c__avx512, pe_qs16_dw_px__avx512, PE_FEAT_AVX512, "avx512"},
      {"pe_qs16_dot_4c__avx512vnni", pe_qs16_dot_4c__avx512vnni, NULL, PE_FEAT_AVX512VNNI, "avx512vnni"},
#endif
#if PE_NEON_KERNELS
      {"pe_qs16_dot_4c__neon", pe_qs16_dot_4c__neon, pe_qs16_dw_px__neon, PE_FEAT_NEON, "neon"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  char detail[160];
  size_t li, nc, j;
  int v, rows, runs, rep;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (li = 0; li < sizeof lens / sizeof lens[0]; ++li)
    for (rows = 1; rows <= 3; ++rows)
      for (runs = 1; runs <= 3; ++runs)
        for (rep = 0; rep < 3; ++rep) {
          pe_qs16_window w;
          size_t f_stride, xn, i;
          int32_t r, q, k;
          w.rows = rows;
          w.runs = runs;
          w.len = lens[li];
          w.in_run = w.len + (rep == 1 ? 5 : 0); /* odd gaps between runs and rows */
          w.in_row = runs * w.in_run + (rep == 1 ? 7 : 3);
          w.f_run = w.len + (rep == 1 ? 3 : 0);
          w.f_row = runs * w.f_run + (rep == 1 ? 1 : 0);
          f_stride = (size_t)rows * (size_t)w.f_row + (rep == 0 ? 0 : 13);
          xn = (size_t)rows * (size_t)w.in_row;
          if (xn > MAX_X || 4 * f_stride > 4 * (size_t)MAX_X) continue;
          for (i = 0; i < xn; ++i) x16_[i] = (int16_t)(rep == 2 ? -32768 : kt_range(s, -32768, 32767));
          for (i = 0; i < 4 * f_stride; ++i) f16_[i] = (int8_t)(rep == 2 ? -128 : kt_range(s, -128, 127));
          for (nc = 1; nc <= PE_QS16_DOT_NC; ++nc) {
            int ok;
            sprintf(detail, "len %d rows %d runs %d nc %d strides %d/%d %d/%d/%d", (int)w.len, rows, runs, (int)nc,
                    (int)w.in_row, (int)w.in_run, (int)w.f_row, (int)w.f_run, (int)f_stride);
            memset(ref16_, KT_CANARY, sizeof ref16_);
            pe_qs16_dot_4c__scalar(&w, x16_, f16_, f_stride, nc, ref16_);
            ok = ((uint8_t *)&ref16_[nc])[0] == KT_CANARY;
            for (j = 0; j < nc && ok; ++j) {
              int64_t want = 0;
              for (r = 0; r < rows; ++r)
                for (q = 0; q < runs; ++q)
                  for (k = 0; k < w.len; ++k)
                    want += (int64_t)f16_[j * f_stride + (size_t)(r * w.f_row + q * w.f_run + k)] *
                            (int64_t)x16_[r * w.in_row + q * w.in_run + k];
              ok = ref16_[j] == want;
            }
            kt_check(s, ok, "qs16 dot scalar twin vs int64 sums", detail);
            for (v = 1; v < nv; ++v) {
              if ((s->features & vs[v].features) != vs[v].features) continue;
              memset(got16_, KT_CANARY, sizeof got16_);
              vs[v].fn(&w, x16_, f16_, f_stride, nc, got16_);
              kt_check(s, memcmp(got16_, ref16_, (nc + 1) * sizeof(int64_t)) == 0, vs[v].name, detail);
            }
          }
        }
  kt_qs16_dw(s, vs, nv);
  kt_qs16_gemm(s);
  kt_qs16_requant(s);
}
