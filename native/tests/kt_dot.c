/* Row dot-product microkernels (SVDF): the scalar twins against int64 sums wrapped to int32
 * here, every SIMD variant against the twins; lengths around the vector widths, row counts
 * around the 4-row blocks, extreme values (-128 and -32768 everywhere: vpmaddwd's overflowing
 * pair), a canary after the last output. */
#include <string.h>

#include "kt.h"
#include "pyedge.h"
#include "pe_kernel.h"
#include "qs8_dot.h"

#define MAX_ROWS 9
#define MAX_K 200

typedef struct {
  const char *name;
  pe_qs8_dot_rows_fn s8;
  pe_qs16_dot_pairs_fn s16;
  uint32_t features;
  const char *feature;
} kt_dot_variant;

static int8_t w8_[MAX_ROWS * (MAX_K + 3)], x8_[MAX_K];
static int16_t a16_[MAX_ROWS * (MAX_K + 3)], b16_[MAX_ROWS * (MAX_K + 3)];
static int32_t ref_[MAX_ROWS + 1], got_[MAX_ROWS + 1];

static int32_t wrap64(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }

void kt_dot(kt_state *s) {
  static const size_t ks[] = {1, 2, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 129, MAX_K};
  static const size_t rs[] = {1, 3, 4, 5, 8, MAX_ROWS};
  const kt_dot_variant vs[] = {
      {"pe_qs8_dot__scalar", pe_qs8_dot_rows__scalar, pe_qs16_dot_pairs__scalar, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs8_dot_4x16__avx2", pe_qs8_dot_rows_4x16__avx2, pe_qs16_dot_pairs_16__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_dot_4x32__avx512", pe_qs8_dot_rows_4x32__avx512, pe_qs16_dot_pairs_32__avx512, PE_FEAT_AVX512,
       "avx512"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  char detail[120];
  size_t ki, ri, r, c;
  int v, rep;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (ki = 0; ki < sizeof ks / sizeof ks[0]; ++ki)
    for (ri = 0; ri < sizeof rs / sizeof rs[0]; ++ri)
      for (rep = 0; rep < 3; ++rep) {
        const size_t k = ks[ki], rows = rs[ri], stride = k + (size_t)(rep % 2) * 3; /* odd row strides */
        const int32_t zp = rep == 2 ? 127 : kt_range(s, -128, 127);
        int ok;
        for (c = 0; c < sizeof w8_; ++c) w8_[c] = (int8_t)(rep == 2 ? -128 : kt_range(s, -128, 127));
        for (c = 0; c < MAX_K; ++c) x8_[c] = (int8_t)(rep == 2 ? -128 : kt_range(s, -128, 127));
        for (c = 0; c < sizeof a16_ / sizeof a16_[0]; ++c) {
          a16_[c] = (int16_t)(rep == 2 ? -32768 : kt_range(s, -32768, 32767));
          b16_[c] = (int16_t)(rep == 2 ? -32768 : kt_range(s, -32768, 32767));
        }
        sprintf(detail, "rows %d k %d stride %d zp %d", (int)rows, (int)k, (int)stride, (int)zp);

        /* int8 rows */
        memset(ref_, KT_CANARY, sizeof ref_);
        pe_qs8_dot_rows__scalar(rows, k, w8_, stride, x8_, zp, ref_);
        ok = ((uint8_t *)&ref_[rows])[0] == KT_CANARY;
        for (r = 0; r < rows && ok; ++r) {
          int64_t want = 0;
          for (c = 0; c < k; ++c) want += (int64_t)w8_[r * stride + c] * ((int64_t)x8_[c] - zp);
          ok = ref_[r] == wrap64(want);
        }
        kt_check(s, ok, "dot s8 rows scalar twin vs int64 sums", detail);
        for (v = 1; v < nv; ++v) {
          if ((s->features & vs[v].features) != vs[v].features) continue;
          memset(got_, KT_CANARY, sizeof got_);
          vs[v].s8(rows, k, w8_, stride, x8_, zp, got_);
          kt_check(s, memcmp(got_, ref_, (rows + 1) * sizeof(int32_t)) == 0, vs[v].name, detail);
        }

        /* int16 pairs */
        memset(ref_, KT_CANARY, sizeof ref_);
        pe_qs16_dot_pairs__scalar(rows, k, a16_, b16_, stride, ref_);
        ok = ((uint8_t *)&ref_[rows])[0] == KT_CANARY;
        for (r = 0; r < rows && ok; ++r) {
          int64_t want = 0;
          for (c = 0; c < k; ++c) want += (int64_t)a16_[r * stride + c] * b16_[r * stride + c];
          ok = ref_[r] == wrap64(want);
        }
        kt_check(s, ok, "dot s16 pairs scalar twin vs int64 sums", detail);
        for (v = 1; v < nv; ++v) {
          if ((s->features & vs[v].features) != vs[v].features) continue;
          memset(got_, KT_CANARY, sizeof got_);
          vs[v].s16(rows, k, a16_, b16_, stride, got_);
          kt_check(s, memcmp(got_, ref_, (rows + 1) * sizeof(int32_t)) == 0, vs[v].name, detail);
        }
      }
}
