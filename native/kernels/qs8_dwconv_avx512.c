/* int8 depthwise row microkernel, AVX-512 F/BW/DQ/VL (contract in qs8_dwconv.h), bit-identical to
 * the scalar twin.
 *
 * Vectorized across channels, one channel block at a time: blocks of 32 (two 16 x int32
 * accumulators), the tail as one masked block of 32, 16 or 8 lanes (masked loads and stores: no
 * byte outside the op's tensors is read or written). Per block the weights of the row's valid
 * filter rows are widened once to int16, two taps interleaved per channel, so that one vpmaddwd
 * adds w_a * x_a + w_b * x_b per int32 lane; the products of int8 by int8 and their pair sums are
 * exact. The input offset is folded into the start value: acc = bias + input_offset * sum(w) +
 * sum(w * x) over the row's valid filter rows, the same sum modulo 2^32 as the scalar's
 * bias + sum(w * (x + input_offset)). A tap left or right of the input reads the input zero point
 * (-input_offset, an int8), whose term w * (zp + offset) is 0, as the skipped tap's is: interior
 * pixels read the input directly, border pixels through a small staging buffer. Requantization:
 * pe_requant16_avx512 / pe_requant8_avx2 (pe_requant_x86.h), TFLite's exactly.
 *
 * In a block of 32 the accumulators hold channels [0-7, 16-23] and [8-15, 24-31] (vpunpck*bw
 * works within 128-bit lanes); the per-channel values are permuted the same way once per block,
 * and the bytes put back in order when packing. */
#include <stddef.h>
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_dwconv.h"

#define DW_INLINE static inline __attribute__((always_inline))

/* acc + the pair sums of x and w: vpmaddwd + vpaddd, or with PE_DW_VNNI (qs8_dwconv_avx512vnni.c
   includes this file) one vpdpwssd, the same exact sum */
#ifdef PE_DW_VNNI
#define PE_DW_ROW pe_qs8_dw_row__avx512vnni
#define PE_DW_MAC512(acc, x, w) _mm512_dpwssd_epi32(acc, x, w)
#define PE_DW_MAC256(acc, x, w) _mm256_dpwssd_epi32(acc, x, w)
#else
#define PE_DW_ROW pe_qs8_dw_row__avx512
#define PE_DW_MAC512(acc, x, w) _mm512_add_epi32(acc, _mm512_madd_epi16(x, w))
#define PE_DW_MAC256(acc, x, w) _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
#endif

/* Filters with more taps run the scalar twin. */
#define DW_MAX_TAPS 128
/* bytes per tap of the staging buffer */
#define DW_STAGE 32

/* The taps of one output row: those of the filter rows inside the input, in filter order, padded
 * to an even count with a copy of the last one whose weight is 0. */
typedef struct {
  int32_t n;                   /* taps, even */
  int32_t xlast;               /* (kw - 1) * dilation_w: pixel x0 is interior iff x0 >= 0, x0 + xlast < in_w */
  ptrdiff_t row0;              /* input offset (elements) of the first valid filter row's input row */
  ptrdiff_t off[DW_MAX_TAPS];  /* tap t's input offset from (first valid row, column x0) */
  ptrdiff_t roff[DW_MAX_TAPS]; /* ... its row part */
  ptrdiff_t soff[DW_MAX_TAPS]; /* its offset in the staging buffer */
  int32_t fx[DW_MAX_TAPS];     /* its column offset fx * dilation_w */
  int32_t widx[DW_MAX_TAPS];   /* its filter tap fy * kw + fx; -1: the padding tap */
} dw_row;

static void row_setup(const pe_qs8_dw_args *p, int32_t oy, dw_row *r) {
  const int32_t y0 = oy * p->stride_h - p->pad_h, ch = p->channels;
  int32_t fy0 = 0, fy1 = p->kh, fy, fx, t = 0;
  while (fy0 < fy1 && y0 + fy0 * p->dilation_h < 0) ++fy0;
  while (fy1 > fy0 && y0 + (fy1 - 1) * p->dilation_h >= p->in_h) --fy1;
  r->xlast = (p->kw - 1) * p->dilation_w;
  r->row0 = fy0 < fy1 ? (ptrdiff_t)(y0 + fy0 * p->dilation_h) * p->in_w * ch : 0;
  for (fy = fy0; fy < fy1; ++fy)
    for (fx = 0; fx < p->kw; ++fx, ++t) {
      r->roff[t] = (ptrdiff_t)(fy - fy0) * p->dilation_h * p->in_w * ch;
      r->fx[t] = fx * p->dilation_w;
      r->off[t] = r->roff[t] + (ptrdiff_t)r->fx[t] * ch;
      r->widx[t] = fy * p->kw + fx;
    }
  if (t & 1) {
    r->roff[t] = r->roff[t - 1];
    r->fx[t] = r->fx[t - 1];
    r->off[t] = r->off[t - 1];
    r->widx[t] = -1;
    ++t;
  }
  r->n = t;
  for (t = 0; t < r->n; ++t) r->soff[t] = (ptrdiff_t)t * DW_STAGE;
}

static inline __mmask32 lanes(int32_t n) { return n >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << n) - 1u); }

/* Filter bytes as int16 weights: sign-extended (int8), or zero-extended minus the zero point
   (uint8). The padding tap's bytes are the zero point (0 for int8): weight 0. */
static inline __m512i widen_w32(const pe_qs8_dw_args *p, __m256i bytes) {
  if (p->filter_u8)
    return _mm512_sub_epi16(_mm512_cvtepu8_epi16(bytes), _mm512_set1_epi16((int16_t)p->filter_zp));
  return _mm512_cvtepi8_epi16(bytes);
}
static inline __m256i widen_w16(const pe_qs8_dw_args *p, __m128i bytes) {
  if (p->filter_u8)
    return _mm256_sub_epi16(_mm256_cvtepu8_epi16(bytes), _mm256_set1_epi16((int16_t)p->filter_zp));
  return _mm256_cvtepi8_epi16(bytes);
}

/* the filter bytes of tap widx at channel c0, NULL for the padding tap */
static inline const int8_t *wptr(const pe_qs8_dw_args *p, int32_t widx, int32_t c0) {
  return widx < 0 ? NULL : p->filter + (size_t)widx * p->channels + c0;
}

/* Border pixel at column x0: the block's bytes (lanes m) of every tap into the staging buffer,
 * the zero point for a tap outside the input. */
static inline void stage_px(const pe_qs8_dw_args *p, const dw_row *r, int32_t x0, int32_t c0, __mmask32 m,
                            __m256i zp, int8_t *stage) {
  int32_t t;
  for (t = 0; t < r->n; ++t) {
    const int32_t ix = x0 + r->fx[t];
    __m256i v = zp;
    if (ix >= 0 && ix < p->in_w)
      v = _mm256_maskz_loadu_epi8(m, p->input + r->row0 + r->roff[t] + (ptrdiff_t)ix * p->channels + c0);
    _mm256_storeu_si256((__m256i *)(stage + r->soff[t]), v);
  }
}

/* Pixels [*ia, *ib) of [ox0, ox1) are interior (every tap inside the input), the others border
   pixels; no interior pixel: *ia = *ib = ox1. */
static void interior_range(const pe_qs8_dw_args *p, const dw_row *r, int32_t ox0, int32_t ox1, int32_t *ia,
                           int32_t *ib) {
  const int64_t lim = (int64_t)p->in_w - r->xlast + p->pad_w; /* interior: ox * stride_w < lim */
  int64_t a = p->pad_w > 0 ? ((int64_t)p->pad_w + p->stride_w - 1) / p->stride_w : 0;
  int64_t b = lim > 0 ? (lim + p->stride_w - 1) / p->stride_w : 0;
  if (a < ox0) a = ox0;
  if (b > ox1) b = ox1;
  if (b <= a || r->n == 0) a = b = ox1; /* no taps: every pixel "staged", reading nothing */
  *ia = (int32_t)a;
  *ib = (int32_t)b;
}

/* the block's bytes of interior pixel ox */
static inline const int8_t *px_at(const pe_qs8_dw_args *p, const dw_row *r, int32_t ox, int32_t c0) {
  return p->input + r->row0 + ((ptrdiff_t)ox * p->stride_w - p->pad_w) * p->channels + c0;
}

/* the block's per-channel state: weight pairs, start values, requantization, staging buffer */
typedef struct {
  __m512i w[DW_MAX_TAPS]; /* 32 lanes: pair q in w[2q], w[2q + 1]; 16 lanes: w[q] */
  __m256i w8[DW_MAX_TAPS / 2];
  __m512i init[2];
  pe_rq16 rq[2];                   /* the requantization's per-channel terms (pe_requant_x86.h) */
  __m256i init8, mult8, shift8;
  int8_t stage[DW_MAX_TAPS * DW_STAGE];
} dw_block;

/* ---------------------------------------------------------------- 32 channels */

DW_INLINE __m256i ld32(const int8_t *s, __mmask32 m, int full) {
  return full ? _mm256_loadu_si256((const __m256i *)s) : _mm256_maskz_loadu_epi8(m, s);
}

DW_INLINE void taps32(const int8_t *x, const ptrdiff_t *off, const __m512i *w, int32_t np, __mmask32 m, int full,
                      __m512i *al, __m512i *ah) {
  __m512i l = *al, h = *ah;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const __m256i xa = ld32(x + off[2 * q], m, full), xb = ld32(x + off[2 * q + 1], m, full);
    l = PE_DW_MAC512(l, _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(xa, xb)), w[2 * q]);
    h = PE_DW_MAC512(h, _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(xa, xb)), w[2 * q + 1]);
  }
  *al = l;
  *ah = h;
}

/* ... of two pixels x, y, each pair of weights loaded once */
DW_INLINE void taps32x2(const int8_t *x, const int8_t *y, const ptrdiff_t *off, const __m512i *w, int32_t np,
                        __mmask32 m, int full, __m512i *lx, __m512i *hx, __m512i *ly, __m512i *hy) {
  __m512i l0 = *lx, h0 = *hx, l1 = *ly, h1 = *hy;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const ptrdiff_t a = off[2 * q], b = off[2 * q + 1];
    const __m512i wl = w[2 * q], wh = w[2 * q + 1];
    __m256i xa = ld32(x + a, m, full), xb = ld32(x + b, m, full);
    l0 = PE_DW_MAC512(l0, _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(xa, xb)), wl);
    h0 = PE_DW_MAC512(h0, _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(xa, xb)), wh);
    xa = ld32(y + a, m, full);
    xb = ld32(y + b, m, full);
    l1 = PE_DW_MAC512(l1, _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(xa, xb)), wl);
    h1 = PE_DW_MAC512(h1, _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(xa, xb)), wh);
  }
  *lx = l0;
  *hx = h0;
  *ly = l1;
  *hy = h1;
}

DW_INLINE void store32(const pe_qs8_dw_args *p, const dw_block *b, __m512i l, __m512i h, __mmask32 m, int full,
                       int8_t *o) {
  const __m256i vmin = _mm256_set1_epi8((char)p->act_min), vmax = _mm256_set1_epi8((char)p->act_max);
  const __m512i order = _mm512_setr_epi32(0, 4, 1, 5, 8, 12, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512i t;
  __m256i y;
  l = pe_rq16_apply(&b->rq[0], l);
  h = pe_rq16_apply(&b->rq[1], h);
  /* int16 lanes [0-3 8-11 | 4-7 12-15 | 16-19 24-27 | 20-23 28-31], then bytes, then in order;
     the saturating packs and the byte clamp are the int32 clamp (act_min, act_max are int8) */
  t = _mm512_packs_epi32(l, h);
  y = _mm512_castsi512_si256(_mm512_permutexvar_epi32(order, _mm512_packs_epi16(t, t)));
  y = _mm256_min_epi8(_mm256_max_epi8(y, vmin), vmax);
  if (full)
    _mm256_storeu_si256((__m256i *)o, y);
  else
    _mm256_mask_storeu_epi8(o, m, y);
}

DW_INLINE void row32(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                     __mmask32 m, int full, int32_t np, int8_t *out) {
  const int32_t ch = p->channels;
  const __m256i zp = _mm256_set1_epi8((char)(int8_t)-p->input_offset);
  const ptrdiff_t step = (ptrdiff_t)p->stride_w * ch;
  int32_t ox, ia, ib;
  interior_range(p, r, ox0, ox1, &ia, &ib);
  for (ox = ox0; ox < ox1; ++ox) {
    __m512i l = b->init[0], h = b->init[1];
    if (ox == ia) {
      for (; ox + 2 <= ib; ox += 2) {
        const int8_t *x = px_at(p, r, ox, c0);
        __m512i l0 = l, h0 = h, l1 = l, h1 = h;
        taps32x2(x, x + step, r->off, b->w, np, m, full, &l0, &h0, &l1, &h1);
        store32(p, b, l0, h0, m, full, out + (size_t)(ox - ox0) * ch + c0);
        store32(p, b, l1, h1, m, full, out + (size_t)(ox + 1 - ox0) * ch + c0);
      }
      if (ox < ib) {
        taps32(px_at(p, r, ox, c0), r->off, b->w, np, m, full, &l, &h);
        store32(p, b, l, h, m, full, out + (size_t)(ox - ox0) * ch + c0);
        ++ox;
      }
      if (ox >= ox1) break;
      l = b->init[0];
      h = b->init[1];
    }
    stage_px(p, r, ox * p->stride_w - p->pad_w, c0, m, zp, b->stage);
    taps32(b->stage, r->soff, b->w, np, m, 1, &l, &h);
    store32(p, b, l, h, m, full, out + (size_t)(ox - ox0) * ch + c0);
  }
}

/* per-channel int32 values c0 .. c0 + 31 (lanes m), permuted as the accumulators */
static void ld_i32x32(const int32_t *v, int32_t c0, __mmask32 m, __m512i *l, __m512i *h) {
  __m512i v0 = _mm512_setzero_si512(), v1 = v0;
  if (v != NULL) {
    v0 = _mm512_maskz_loadu_epi32((__mmask16)m, v + c0);
    if ((m >> 16) != 0) v1 = _mm512_maskz_loadu_epi32((__mmask16)(m >> 16), v + c0 + 16);
  }
  *l = _mm512_shuffle_i64x2(v0, v1, 0x44);
  *h = _mm512_shuffle_i64x2(v0, v1, 0xEE);
}

/* the requantization terms of channels c0 .. c0 + 31 (lanes m), in the accumulators' order */
static void rq32_setup(const pe_qs8_dw_args *p, int32_t c0, __mmask32 m, dw_block *b) {
  const __m512i off = _mm512_set1_epi32(p->output_offset);
  __m512i ml, mh, sl, sh;
  ld_i32x32(p->mult, c0, m, &ml, &mh);
  ld_i32x32(p->shift, c0, m, &sl, &sh);
  b->rq[0] = pe_rq16_prepare(ml, sl, off);
  b->rq[1] = pe_rq16_prepare(mh, sh, off);
}

/* 32 channels c0 .. c0 + n - 1 (16 < n <= 32) of pixels [ox0, ox1) */
static void block32(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                    int32_t n, int8_t *out) {
  const int32_t np = r->n / 2;
  const __mmask32 m = lanes(n);
  const __m512i ones = _mm512_set1_epi16(1), voff = _mm512_set1_epi32(p->input_offset);
  __m512i sl = _mm512_setzero_si512(), sh = sl, bl, bh;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const int8_t *pa = wptr(p, r->widx[2 * q], c0), *pb = wptr(p, r->widx[2 * q + 1], c0);
    const __m256i zw = _mm256_set1_epi8((char)p->filter_zp);
    const __m256i wa = pa != NULL ? _mm256_maskz_loadu_epi8(m, pa) : zw;
    const __m256i wb = pb != NULL ? _mm256_maskz_loadu_epi8(m, pb) : zw;
    b->w[2 * q] = widen_w32(p, _mm256_unpacklo_epi8(wa, wb));
    b->w[2 * q + 1] = widen_w32(p, _mm256_unpackhi_epi8(wa, wb));
    sl = _mm512_add_epi32(sl, _mm512_madd_epi16(b->w[2 * q], ones));
    sh = _mm512_add_epi32(sh, _mm512_madd_epi16(b->w[2 * q + 1], ones));
  }
  ld_i32x32(p->bias, c0, m, &bl, &bh);
  b->init[0] = _mm512_add_epi32(bl, _mm512_mullo_epi32(sl, voff));
  b->init[1] = _mm512_add_epi32(bh, _mm512_mullo_epi32(sh, voff));
  rq32_setup(p, c0, m, b);
  if (n == 32)
    row32(p, r, b, ox0, ox1, c0, m, 1, np, out);
  else
    row32(p, r, b, ox0, ox1, c0, m, 0, np, out);
}

/* 3x3, stride 1 across, dilation 1, 32 channels: every input column is widened once and slides
 * through the window of the three output pixels that read it, instead of once per tap. Rows 0
 * and 1 of a column are int16 pairs (one multiply-add per 32 channels covers both), row 2 is
 * paired with zero; the weights are paired the same way (the zero point's byte beside row 2's:
 * weight 0 after widening). Taps outside the input read the input zero point, whose term is 0,
 * so the start value holds all nine taps and the borders need no other path. Same lanes as
 * taps32: l holds channels [0-7, 16-23], h [8-15, 24-31]. */
DW_INLINE void col32(const int8_t *a0, const int8_t *a1, const int8_t *a2, __m512i c[4]) {
  const __m256i a = _mm256_loadu_si256((const __m256i *)a0), b = _mm256_loadu_si256((const __m256i *)a1);
  const __m256i d = _mm256_loadu_si256((const __m256i *)a2), z = _mm256_setzero_si256();
  c[0] = _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(a, b));
  c[1] = _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(a, b));
  c[2] = _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(d, z));
  c[3] = _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(d, z));
}

DW_INLINE void mac_col(__m512i *l, __m512i *h, const __m512i c[4], const __m512i *w) {
  *l = PE_DW_MAC512(PE_DW_MAC512(*l, c[0], w[0]), c[2], w[2]);
  *h = PE_DW_MAC512(PE_DW_MAC512(*h, c[1], w[1]), c[3], w[3]);
}

static void block32_3x3s1(const pe_qs8_dw_args *p, int32_t oy, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                          int8_t *out) {
  const ptrdiff_t ch = p->channels, rs = (ptrdiff_t)p->in_w * ch;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  const __m256i zw = _mm256_set1_epi8((char)p->filter_zp);
  const __m512i ones = _mm512_set1_epi16(1), voff = _mm512_set1_epi32(p->input_offset);
  const int8_t *zpb = b->stage;
  const int8_t *row[3];
  ptrdiff_t cs[3];
  __m512i w[12], zc[4], ca[4], cb[4], cc[4], sl = _mm512_setzero_si512(), sh = sl, bl, bh;
  int32_t fx, fy, ox, j;
  _mm256_storeu_si256((__m256i *)b->stage, _mm256_set1_epi8((char)(int8_t)-p->input_offset));
  for (fy = 0; fy < 3; ++fy) { /* a row outside the input: the zero point in every column */
    const int32_t iy = y0 + fy;
    row[fy] = iy >= 0 && iy < p->in_h ? p->input + (ptrdiff_t)iy * rs + c0 : zpb;
    cs[fy] = iy >= 0 && iy < p->in_h ? ch : 0;
  }
  for (fx = 0; fx < 3; ++fx) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(p->filter + (size_t)fx * ch + c0));
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)(p->filter + (size_t)(3 + fx) * ch + c0));
    const __m256i w2 = _mm256_loadu_si256((const __m256i *)(p->filter + (size_t)(6 + fx) * ch + c0));
    w[4 * fx + 0] = widen_w32(p, _mm256_unpacklo_epi8(w0, w1));
    w[4 * fx + 1] = widen_w32(p, _mm256_unpackhi_epi8(w0, w1));
    w[4 * fx + 2] = widen_w32(p, _mm256_unpacklo_epi8(w2, zw));
    w[4 * fx + 3] = widen_w32(p, _mm256_unpackhi_epi8(w2, zw));
    sl = _mm512_add_epi32(sl, _mm512_add_epi32(_mm512_madd_epi16(w[4 * fx], ones), _mm512_madd_epi16(w[4 * fx + 2], ones)));
    sh = _mm512_add_epi32(sh, _mm512_add_epi32(_mm512_madd_epi16(w[4 * fx + 1], ones),
                                               _mm512_madd_epi16(w[4 * fx + 3], ones)));
  }
  ld_i32x32(p->bias, c0, 0xFFFFFFFFu, &bl, &bh);
  b->init[0] = _mm512_add_epi32(bl, _mm512_mullo_epi32(sl, voff));
  b->init[1] = _mm512_add_epi32(bh, _mm512_mullo_epi32(sh, voff));
  rq32_setup(p, c0, 0xFFFFFFFFu, b);
  col32(zpb, zpb, zpb, zc);
#define PE_DW_COL(ix, c)                                                                                         \
  do {                                                                                                           \
    const int32_t ix_ = (ix);                                                                                    \
    if (ix_ >= 0 && ix_ < p->in_w)                                                                               \
      col32(row[0] + ix_ * cs[0], row[1] + ix_ * cs[1], row[2] + ix_ * cs[2], c);                                \
    else                                                                                                         \
      for (j = 0; j < 4; ++j) (c)[j] = zc[j];                                                                    \
  } while (0)
  /* output ox reads columns ox - pad_w + 0, 1, 2: the window's three column buffers take turns
     (unrolled by three, so that no column is copied) */
#define PE_DW_PX(c_0, c_1, c_2)                                                                                  \
  do {                                                                                                           \
    __m512i l = b->init[0], h = b->init[1];                                                                      \
    PE_DW_COL(ox - p->pad_w + 2, c_2);                                                                           \
    mac_col(&l, &h, c_0, w);                                                                                     \
    mac_col(&l, &h, c_1, w + 4);                                                                                 \
    mac_col(&l, &h, c_2, w + 8);                                                                                 \
    store32(p, b, l, h, 0, 1, out + (size_t)(ox - ox0) * ch + c0);                                              \
    ++ox;                                                                                                        \
  } while (0)
  PE_DW_COL(ox0 - p->pad_w, ca);
  PE_DW_COL(ox0 - p->pad_w + 1, cb);
  ox = ox0;
  for (; ox + 3 <= ox1;) {
    PE_DW_PX(ca, cb, cc);
    PE_DW_PX(cb, cc, ca);
    PE_DW_PX(cc, ca, cb);
  }
  if (ox < ox1) PE_DW_PX(ca, cb, cc);
  if (ox < ox1) PE_DW_PX(cb, cc, ca);
#undef PE_DW_PX
#undef PE_DW_COL
}

/* ---------------------------------------------------------------- 16 channels */

/* taps a, b of 16 channels as the int16 pairs (a0 b0 a1 b1 ... a15 b15) */
static inline __m512i pairs16(__m128i a, __m128i b) {
  return _mm512_cvtepi8_epi16(
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(a, b)), _mm_unpackhi_epi8(a, b), 1));
}

DW_INLINE void taps16(const int8_t *x, const ptrdiff_t *off, const __m512i *w, int32_t np, __mmask16 m,
                      __m512i *acc) {
  __m512i a = *acc;
  int32_t q;
  for (q = 0; q < np; ++q)
    a = PE_DW_MAC512(a, pairs16(_mm_maskz_loadu_epi8(m, x + off[2 * q]),
                                                      _mm_maskz_loadu_epi8(m, x + off[2 * q + 1])),
                                              w[q]);
  *acc = a;
}

DW_INLINE void taps16x2(const int8_t *x, const int8_t *y, const ptrdiff_t *off, const __m512i *w, int32_t np,
                        __mmask16 m, __m512i *ax, __m512i *ay) {
  __m512i a0 = *ax, a1 = *ay;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const ptrdiff_t a = off[2 * q], b = off[2 * q + 1];
    const __m512i wq = w[q];
    a0 = PE_DW_MAC512(a0, pairs16(_mm_maskz_loadu_epi8(m, x + a), _mm_maskz_loadu_epi8(m, x + b)), wq);
    a1 = PE_DW_MAC512(a1, pairs16(_mm_maskz_loadu_epi8(m, y + a), _mm_maskz_loadu_epi8(m, y + b)), wq);
  }
  *ax = a0;
  *ay = a1;
}

DW_INLINE void store16(const pe_qs8_dw_args *p, const dw_block *b, __m512i acc, __mmask16 m, int8_t *o) {
  const __m512i vmin = _mm512_set1_epi32(p->act_min), vmax = _mm512_set1_epi32(p->act_max);
  _mm_mask_storeu_epi8(o, m, _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(pe_rq16_apply(&b->rq[0], acc), vmin), vmax)));
}

DW_INLINE void row16(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                     __mmask16 m, int32_t np, int8_t *out) {
  const int32_t ch = p->channels;
  const __m256i zp = _mm256_set1_epi8((char)(int8_t)-p->input_offset);
  const ptrdiff_t step = (ptrdiff_t)p->stride_w * ch;
  int32_t ox, ia, ib;
  interior_range(p, r, ox0, ox1, &ia, &ib);
  for (ox = ox0; ox < ox1; ++ox) {
    __m512i acc = b->init[0];
    if (ox == ia) {
      for (; ox + 2 <= ib; ox += 2) {
        const int8_t *x = px_at(p, r, ox, c0);
        __m512i a0 = acc, a1 = acc;
        taps16x2(x, x + step, r->off, b->w, np, m, &a0, &a1);
        store16(p, b, a0, m, out + (size_t)(ox - ox0) * ch + c0);
        store16(p, b, a1, m, out + (size_t)(ox + 1 - ox0) * ch + c0);
      }
      if (ox < ib) {
        taps16(px_at(p, r, ox, c0), r->off, b->w, np, m, &acc);
        store16(p, b, acc, m, out + (size_t)(ox - ox0) * ch + c0);
        ++ox;
      }
      if (ox >= ox1) break;
      acc = b->init[0];
    }
    stage_px(p, r, ox * p->stride_w - p->pad_w, c0, m, zp, b->stage);
    taps16(b->stage, r->soff, b->w, np, m, &acc);
    store16(p, b, acc, m, out + (size_t)(ox - ox0) * ch + c0);
  }
}

/* 16 channels c0 .. c0 + n - 1 (8 < n <= 16) of pixels [ox0, ox1) */
static void block16(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                    int32_t n, int8_t *out) {
  const int32_t np = r->n / 2;
  const __mmask16 m = (__mmask16)lanes(n);
  const __m512i ones = _mm512_set1_epi16(1), voff = _mm512_set1_epi32(p->input_offset);
  __m512i s = _mm512_setzero_si512();
  int32_t q;
  for (q = 0; q < np; ++q) {
    const int8_t *pa = wptr(p, r->widx[2 * q], c0), *pb = wptr(p, r->widx[2 * q + 1], c0);
    const __m128i zw = _mm_set1_epi8((char)p->filter_zp);
    const __m128i wa = pa != NULL ? _mm_maskz_loadu_epi8(m, pa) : zw, wb = pb != NULL ? _mm_maskz_loadu_epi8(m, pb) : zw;
    b->w[q] = widen_w32(p, _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(wa, wb)),
                                                   _mm_unpackhi_epi8(wa, wb), 1));
    s = _mm512_add_epi32(s, _mm512_madd_epi16(b->w[q], ones));
  }
  b->init[0] = _mm512_mullo_epi32(s, voff);
  if (p->bias != NULL) b->init[0] = _mm512_add_epi32(b->init[0], _mm512_maskz_loadu_epi32(m, p->bias + c0));
  b->rq[0] = pe_rq16_prepare(_mm512_maskz_loadu_epi32(m, p->mult + c0), _mm512_maskz_loadu_epi32(m, p->shift + c0),
                             _mm512_set1_epi32(p->output_offset));
  row16(p, r, b, ox0, ox1, c0, m, np, out);
}

/* ---------------------------------------------------------------- 8 channels */

/* 8 bytes of x (full: all 8 lanes, a plain load; else the lanes of m) */
DW_INLINE __m128i ld8(const int8_t *x, __mmask16 m, int full) {
  return full ? _mm_loadl_epi64((const __m128i *)x) : _mm_maskz_loadu_epi8(m, x);
}

DW_INLINE void taps8(const int8_t *x, const ptrdiff_t *off, const __m256i *w, int32_t np, __mmask16 m, int full,
                     __m256i *acc) {
  __m256i a = *acc;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const __m128i xa = ld8(x + off[2 * q], m, full), xb = ld8(x + off[2 * q + 1], m, full);
    a = PE_DW_MAC256(a, _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(xa, xb)), w[q]);
  }
  *acc = a;
}

/* ... of four pixels x + k * step (independent sums: one accumulator chain each) */
DW_INLINE void taps8x4(const int8_t *x, ptrdiff_t step, const ptrdiff_t *off, const __m256i *w, int32_t np,
                       __mmask16 m, int full, __m256i *acc) {
  __m256i a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t q;
  for (q = 0; q < np; ++q) {
    const ptrdiff_t oa = off[2 * q], ob = off[2 * q + 1];
    const __m256i wq = w[q];
    a0 = PE_DW_MAC256(a0, _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(ld8(x + oa, m, full), ld8(x + ob, m, full))), wq);
    a1 = PE_DW_MAC256(a1, _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(ld8(x + step + oa, m, full),
                                                                  ld8(x + step + ob, m, full))), wq);
    a2 = PE_DW_MAC256(a2, _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(ld8(x + 2 * step + oa, m, full),
                                                                  ld8(x + 2 * step + ob, m, full))), wq);
    a3 = PE_DW_MAC256(a3, _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(ld8(x + 3 * step + oa, m, full),
                                                                  ld8(x + 3 * step + ob, m, full))), wq);
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

DW_INLINE void row8(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                    __mmask16 m, int full, int32_t np, int8_t *out) {
  const int32_t ch = p->channels;
  const __m256i zp = _mm256_set1_epi8((char)(int8_t)-p->input_offset);
  const __m256i oofs = _mm256_set1_epi32(p->output_offset);
  const __m256i vmin = _mm256_set1_epi32(p->act_min), vmax = _mm256_set1_epi32(p->act_max);
  int32_t ox, ia, ib;
  interior_range(p, r, ox0, ox1, &ia, &ib);
  for (ox = ox0; ox < ox1; ++ox) {
    __m256i acc = b->init8;
    if (ox >= ia && ox + 4 <= ib) { /* four interior pixels */
      __m256i a4[4] = {acc, acc, acc, acc};
      int k;
      taps8x4(px_at(p, r, ox, c0), (ptrdiff_t)p->stride_w * ch, r->off, b->w8, np, m, full, a4);
      for (k = 0; k < 4; ++k) {
        int8_t *o = out + (size_t)(ox + k - ox0) * ch + c0;
        const __m256i q = pe_requant8_avx2(a4[k], b->mult8, b->shift8, oofs, vmin, vmax);
        if (full)
          _mm_storel_epi64((__m128i *)o, _mm256_cvtepi32_epi8(q));
        else
          _mm_mask_storeu_epi8(o, m, _mm256_cvtepi32_epi8(q));
      }
      ox += 3;
      continue;
    }
    if (ox >= ia && ox < ib) {
      taps8(px_at(p, r, ox, c0), r->off, b->w8, np, m, full, &acc);
    } else {
      stage_px(p, r, ox * p->stride_w - p->pad_w, c0, m, zp, b->stage);
      taps8(b->stage, r->soff, b->w8, np, m, full, &acc);
    }
    acc = pe_requant8_avx2(acc, b->mult8, b->shift8, oofs, vmin, vmax);
    if (full) /* masked stores are slow on some cores (Zen 4): a plain 8-byte store for 8 lanes */
      _mm_storel_epi64((__m128i *)(out + (size_t)(ox - ox0) * ch + c0), _mm256_cvtepi32_epi8(acc));
    else
      _mm_mask_storeu_epi8(out + (size_t)(ox - ox0) * ch + c0, m, _mm256_cvtepi32_epi8(acc));
  }
}

/* 8 channels c0 .. c0 + n - 1 (n <= 8) of pixels [ox0, ox1) */
static void block8(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                   int32_t n, int8_t *out) {
  const int32_t np = r->n / 2;
  const __mmask16 m = (__mmask16)lanes(n);
  const __m256i ones = _mm256_set1_epi16(1), voff = _mm256_set1_epi32(p->input_offset);
  __m256i s = _mm256_setzero_si256();
  int32_t q;
  for (q = 0; q < np; ++q) {
    const int8_t *pa = wptr(p, r->widx[2 * q], c0), *pb = wptr(p, r->widx[2 * q + 1], c0);
    const __m128i zw = _mm_set1_epi8((char)p->filter_zp);
    b->w8[q] = widen_w16(p, _mm_unpacklo_epi8(pa != NULL ? _mm_maskz_loadu_epi8(m, pa) : zw,
                                              pb != NULL ? _mm_maskz_loadu_epi8(m, pb) : zw));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(b->w8[q], ones));
  }
  b->init8 = _mm256_mullo_epi32(s, voff);
  if (p->bias != NULL) b->init8 = _mm256_add_epi32(b->init8, _mm256_maskz_loadu_epi32((__mmask8)m, p->bias + c0));
  b->mult8 = _mm256_maskz_loadu_epi32((__mmask8)m, p->mult + c0);
  b->shift8 = _mm256_maskz_loadu_epi32((__mmask8)m, p->shift + c0);
  if (n == 8)
    row8(p, r, b, ox0, ox1, c0, m, 1, np, out);
  else
    row8(p, r, b, ox0, ox1, c0, m, 0, np, out);
}

void PE_DW_ROW(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels;
  dw_row r;
  dw_block b;
  int32_t c0;
  if (ox1 <= ox0 || ch <= 0) return;
  /* the zero point must be an int8 (TFLite's int8 offsets are in [-127, 128]) */
  if (p->kh < 0 || p->kw < 0 || (int64_t)p->kh * p->kw > DW_MAX_TAPS || p->input_offset < -127 ||
      p->input_offset > 128) {
    pe_qs8_dw_row__scalar(p, oy, ox0, ox1, out);
    return;
  }
  row_setup(p, oy, &r);
  if (p->kh == 3 && p->kw == 3 && p->stride_w == 1 && p->dilation_w == 1 && p->dilation_h == 1)
    for (c0 = 0; c0 + 32 <= ch; c0 += 32) block32_3x3s1(p, oy, &b, ox0, ox1, c0, out);
  else
    for (c0 = 0; c0 + 32 <= ch; c0 += 32) block32(p, &r, &b, ox0, ox1, c0, 32, out);
  if (ch - c0 > 16)
    block32(p, &r, &b, ox0, ox1, c0, ch - c0, out);
  else if (ch - c0 > 8)
    block16(p, &r, &b, ox0, ox1, c0, ch - c0, out);
  else if (ch - c0 > 0)
    block8(p, &r, &b, ox0, ox1, c0, ch - c0, out);
}
