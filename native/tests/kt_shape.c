/* Data-movement and reduction microkernels: the 1-byte TRANSPOSE tiles (x8_transpose.h) and the
 * int8 row sums of MEAN (qs8_rowsum.h). Each scalar twin against its contract written out here,
 * every SIMD variant against the twin: interleaves and splits of 2-4 planes with odd pixel
 * counts, general tiles around the 16x16 blocks, prime strides, unaligned sources, canaries
 * around and between the outputs; row sums over runs of 256 rows with extreme values and
 * wrapping int32 sums. */
#include <stdio.h>
#include <string.h>

#include "kt.h"
#include "pyedge.h"
#include "pe_kernel.h"
#include "qs8_rowsum.h"
#include "x8_transpose.h"

#define T_SRC 6144
#define T_DST 6144
#define R_X 24576
#define R_N 1400

typedef struct {
  const char *name;
  pe_x8_transpose_fn fn;
  uint32_t features;
  const char *feature;
} kt_transpose_variant;

typedef struct {
  const char *name;
  pe_qs8_rowsum_fn fn;
  uint32_t features;
  const char *feature;
} kt_rowsum_variant;

static uint8_t tsrc_[T_SRC + 1], tref_[T_DST], tgot_[T_DST];
static int8_t rx_[R_X];
static int32_t racc_[R_N + 1], rref_[R_N + 1], rgot_[R_N + 1];

static void transpose_case(kt_state *s, const kt_transpose_variant *vs, int nv, size_t rows, size_t cols,
                           size_t src_stride, size_t dst_stride) {
  const uint8_t *src = tsrc_ + 1; /* unaligned */
  const size_t src_n = cols ? rows + (cols - 1) * src_stride : 0;
  const size_t dst_n = rows ? (rows - 1) * dst_stride + cols : 0;
  char detail[120];
  size_t r, i;
  int v, ok = 1;
  if (src_n > T_SRC || dst_n + 16 > T_DST) return;
  for (i = 0; i < T_SRC + 1; ++i) tsrc_[i] = (uint8_t)kt_rand(s);
  memset(tref_, KT_CANARY, sizeof tref_);
  pe_x8_transpose__scalar(rows, cols, src, src_stride, tref_, dst_stride);
  sprintf(detail, "rows %d cols %d src_stride %d dst_stride %d", (int)rows, (int)cols, (int)src_stride,
          (int)dst_stride);
  /* the twin: every tile byte from its source, every other byte the canary */
  for (i = 0; i < T_DST && ok; ++i) {
    const size_t rr = i / dst_stride, ii = i % dst_stride;
    const int in_tile = rr < rows && ii < cols;
    ok = tref_[i] == (in_tile ? src[rr + ii * src_stride] : KT_CANARY);
  }
  kt_check(s, ok, "x8 transpose scalar twin vs contract", detail);
  for (v = 1; v < nv; ++v) {
    if ((s->features & vs[v].features) != vs[v].features) continue;
    memset(tgot_, KT_CANARY, sizeof tgot_);
    vs[v].fn(rows, cols, src, src_stride, tgot_, dst_stride);
    kt_check(s, memcmp(tgot_, tref_, sizeof tref_) == 0, vs[v].name, detail);
  }
  (void)r;
}

static void kt_transpose(kt_state *s) {
  static const size_t px[] = {1, 2, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 97, 127, 128, 129, 191, 224, 257, 509, 1021};
  static const size_t gen[] = {1, 3, 15, 16, 17, 31, 32, 37, 50};
  static const size_t pad[] = {0, 1, 7, 13};
  const kt_transpose_variant vs[] = {
      {"pe_x8_transpose__scalar", pe_x8_transpose__scalar, 0, ""},
#if PE_X86_KERNELS
      {"pe_x8_transpose__avx2", pe_x8_transpose__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_x8_transpose__avx512", pe_x8_transpose__avx512, PE_FEAT_AVX512 | PE_FEAT_AVX2, "avx512"},
#endif
#if PE_NEON_KERNELS
      {"pe_x8_transpose__neon", pe_x8_transpose__neon, PE_FEAT_NEON, "neon"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  size_t a, b, c, k;
  int v;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (c = 1; c <= 5; ++c)
    for (a = 0; a < sizeof px / sizeof px[0]; ++a)
      for (k = 0; k < sizeof pad / sizeof pad[0]; ++k) {
        /* c planes of px[a] pixels interleaved (NCHW -> NHWC), planes pad[k] apart beyond the pixels */
        transpose_case(s, vs, nv, px[a], c, px[a] + pad[k], c);
        /* and split (NHWC -> NCHW), the planes pad[k] apart beyond the pixels */
        transpose_case(s, vs, nv, c, px[a], c, px[a] + pad[k]);
        /* the same with gaps between the pixels: the general path */
        transpose_case(s, vs, nv, px[a], c, px[a] + pad[k], c + pad[k]);
        transpose_case(s, vs, nv, c, px[a], c + pad[k], px[a] + pad[k]);
      }
  for (a = 0; a < sizeof gen / sizeof gen[0]; ++a)
    for (b = 0; b < sizeof gen / sizeof gen[0]; ++b)
      for (k = 0; k < sizeof pad / sizeof pad[0]; ++k) {
        transpose_case(s, vs, nv, gen[a], gen[b], gen[a] + pad[k], gen[b] + pad[(k + 1) % 4]);
        transpose_case(s, vs, nv, gen[a], gen[b], gen[a] + 3 * pad[k], gen[b]);
      }
  transpose_case(s, vs, nv, 0, 3, 5, 3);
  transpose_case(s, vs, nv, 3, 0, 3, 5);
}

static void rowsum_case(kt_state *s, const kt_rowsum_variant *vs, int nv, size_t rows, size_t n, size_t stride,
                        int fill) {
  char detail[120];
  size_t r, i;
  int v, ok = 1;
  if (rows * stride > R_X || n > R_N) return;
  for (i = 0; i < rows * stride; ++i)
    rx_[i] = (int8_t)(fill == 0 ? kt_range(s, -128, 127) : (fill == 1 ? -128 : (fill == 2 ? 127 : (int)(i % 3) - 1)));
  for (i = 0; i < n; ++i) {
    const uint32_t u = kt_rand(s);
    /* start sums anywhere, near the wrap too */
    racc_[i] = (int32_t)(i % 4 == 0 ? 0x7FFFFF00u + (u & 0xFF) : (i % 4 == 1 ? 0x80000000u + (u & 0xFF) : u));
  }
  racc_[n] = (int32_t)0x5A5A5A5Au;
  memcpy(rref_, racc_, sizeof racc_);
  pe_qs8_rowsum__scalar(rows, n, rx_, stride, rref_);
  sprintf(detail, "rows %d n %d stride %d fill %d", (int)rows, (int)n, (int)stride, fill);
  for (i = 0; i < n && ok; ++i) {
    int64_t sum = 0;
    for (r = 0; r < rows; ++r) sum += rx_[r * stride + i];
    ok = (uint32_t)rref_[i] == (uint32_t)racc_[i] + (uint32_t)sum;
  }
  ok = ok && rref_[n] == racc_[n];
  kt_check(s, ok, "qs8 rowsum scalar twin vs contract", detail);
  for (v = 1; v < nv; ++v) {
    if ((s->features & vs[v].features) != vs[v].features) continue;
    memcpy(rgot_, racc_, sizeof racc_);
    vs[v].fn(rows, n, rx_, stride, rgot_);
    kt_check(s, memcmp(rgot_, rref_, sizeof rref_) == 0, vs[v].name, detail);
  }
}

static void kt_rowsum(kt_state *s) {
  static const size_t rows[] = {1, 2, 7, 49, 255, 256, 257, 513};
  static const size_t ns[] = {0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 1280, 1283};
  static const size_t pad[] = {0, 3, 13};
  const kt_rowsum_variant vs[] = {
      {"pe_qs8_rowsum__scalar", pe_qs8_rowsum__scalar, 0, ""},
#if PE_X86_KERNELS
      {"pe_qs8_rowsum_32x__avx2", pe_qs8_rowsum_32x__avx2, PE_FEAT_AVX2, "avx2"},
      {"pe_qs8_rowsum_64x__avx512", pe_qs8_rowsum_64x__avx512, PE_FEAT_AVX512, "avx512"},
#endif
#if PE_NEON_KERNELS
      {"pe_qs8_rowsum_16x__neon", pe_qs8_rowsum_16x__neon, PE_FEAT_NEON, "neon"},
#endif
  };
  const int nv = (int)(sizeof vs / sizeof vs[0]);
  size_t a, b, k;
  int v, fill;
  for (v = 1; v < nv; ++v)
    if ((s->features & vs[v].features) != vs[v].features) kt_skip(s, vs[v].name, vs[v].feature);
  for (a = 0; a < sizeof rows / sizeof rows[0]; ++a)
    for (b = 0; b < sizeof ns / sizeof ns[0]; ++b)
      for (k = 0; k < sizeof pad / sizeof pad[0]; ++k)
        for (fill = 0; fill < 4; ++fill) {
          if (fill != 0 && (k != 1 || rows[a] < 255)) continue; /* extremes: the long runs only */
          rowsum_case(s, vs, nv, rows[a], ns[b], ns[b] + pad[k], fill);
        }
}

void kt_shape(kt_state *s) {
  kt_transpose(s);
  kt_rowsum(s);
}
