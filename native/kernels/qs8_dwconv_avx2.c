/* int8 depthwise row microkernel, AVX2 (contract in qs8_dwconv.h), bit-identical to the scalar twin.
 *
 * Vectorized across channels, one channel block at a time: blocks of 16 (two 8 x int32
 * accumulators), then the tail as an overlapping last block of 16 or 8 (rewriting a few channels
 * with the same values), or, below 8 channels, an 8-lane block staged through a stack buffer.
 * Per block the weights of the row's valid filter rows are widened once to int16, two taps
 * interleaved per channel, so that one vpmaddwd adds w_a * x_a + w_b * x_b per int32 lane; the
 * products of int8 by int8 and their pair sums are exact. The input offset is folded into the
 * start value: acc = bias + input_offset * sum(w) + sum(w * x) over the row's valid filter rows,
 * the same sum modulo 2^32 as the scalar's bias + sum(w * (x + input_offset)). A tap left or right
 * of the input reads the input zero point (-input_offset, an int8), whose term w * (zp + offset)
 * is 0, as the skipped tap's is: interior pixels read the input directly, border pixels through a
 * small staging buffer. Requantization: pe_requant8_avx2 (pe_requant_x86.h), TFLite's exactly. */
#include <stddef.h>
#include <string.h>

#include "pe_requant_x86.h"
#include "qs8_dwconv.h"

#define DW_INLINE static inline __attribute__((always_inline))

/* Filters with more taps run the scalar twin. */
#define DW_MAX_TAPS 128
/* bytes per tap of the staging buffer */
#define DW_STAGE 16

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

/* n (< 16) bytes from src, the rest 0 */
static inline __m128i load_partial(const int8_t *src, int32_t n) {
  int8_t b[16] = {0};
  int32_t i;
  for (i = 0; i < n; ++i) b[i] = src[i];
  return _mm_loadu_si128((const __m128i *)b);
}

/* 8 weights of tap widx at channel c0 (n < 8: n of them, the rest 0); the padding tap's are 0 */
static inline __m128i load_w8(const pe_qs8_dw_args *p, int32_t widx, int32_t c0, int32_t n) {
  const int8_t *w;
  if (widx < 0) return _mm_set1_epi8((char)p->filter_zp); /* weight 0 (filter_zp is 0 for int8) */
  w = p->filter + (size_t)widx * p->channels + c0;
  return n >= 8 ? _mm_loadl_epi64((const __m128i *)w) : load_partial(w, n);
}

/* 16 weights of tap widx at channel c0; the padding tap's are 0 */
static inline __m128i load_w16(const pe_qs8_dw_args *p, int32_t widx, int32_t c0) {
  if (widx < 0) return _mm_set1_epi8((char)p->filter_zp);
  return _mm_loadu_si128((const __m128i *)(p->filter + (size_t)widx * p->channels + c0));
}

/* 16 filter bytes as int16 weights: sign-extended (int8), or zero-extended minus the zero point */
static inline __m256i widen_w(const pe_qs8_dw_args *p, __m128i bytes) {
  if (p->filter_u8)
    return _mm256_sub_epi16(_mm256_cvtepu8_epi16(bytes), _mm256_set1_epi16((int16_t)p->filter_zp));
  return _mm256_cvtepi8_epi16(bytes);
}

/* per-channel int32 values c0 .. c0 + 7 (n < 8: n of them, the rest 0) */
static inline __m256i load_i32x8(const int32_t *v, int32_t c0, int32_t n) {
  int32_t b[8] = {0};
  int32_t i;
  if (v == NULL) return _mm256_setzero_si256();
  if (n >= 8) return _mm256_loadu_si256((const __m256i *)(v + c0));
  for (i = 0; i < n; ++i) b[i] = v[c0 + i];
  return _mm256_loadu_si256((const __m256i *)b);
}

/* Border pixel at column x0: the block's bytes of every tap (n of them, n < 8 partially) into the
 * staging buffer, the zero point for a tap outside the input. */
static inline void stage_px(const pe_qs8_dw_args *p, const dw_row *r, int32_t x0, int32_t c0, int32_t n,
                            __m128i zp, int8_t *stage) {
  int32_t t;
  for (t = 0; t < r->n; ++t) {
    const int32_t ix = x0 + r->fx[t];
    int8_t *d = stage + r->soff[t];
    if (ix < 0 || ix >= p->in_w) {
      _mm_storeu_si128((__m128i *)d, zp);
    } else {
      const int8_t *s = p->input + r->row0 + r->roff[t] + (ptrdiff_t)ix * p->channels + c0;
      if (n >= 16)
        _mm_storeu_si128((__m128i *)d, _mm_loadu_si128((const __m128i *)s));
      else if (n == 8)
        _mm_storel_epi64((__m128i *)d, _mm_loadl_epi64((const __m128i *)s));
      else
        _mm_storeu_si128((__m128i *)d, load_partial(s, n));
    }
  }
}

static inline __m256i start(__m256i wsum, __m256i voff, __m256i bias) {
  return _mm256_add_epi32(bias, _mm256_mullo_epi32(wsum, voff));
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

/* ---------------------------------------------------------------- 16 channels */

/* np tap pairs of one pixel (x: its block's bytes at tap offset 0) into lo, hi */
DW_INLINE void taps16(const int8_t *x, const ptrdiff_t *off, const __m256i *w, int32_t np, __m256i *lo,
                      __m256i *hi) {
  __m256i l = *lo, h = *hi;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const __m128i xa = _mm_loadu_si128((const __m128i *)(x + off[2 * q]));
    const __m128i xb = _mm_loadu_si128((const __m128i *)(x + off[2 * q + 1]));
    l = _mm256_add_epi32(l, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(xa, xb)), w[2 * q]));
    h = _mm256_add_epi32(h, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(xa, xb)), w[2 * q + 1]));
  }
  *lo = l;
  *hi = h;
}

/* ... of two pixels x, y, each pair of weights loaded once */
DW_INLINE void taps16x2(const int8_t *x, const int8_t *y, const ptrdiff_t *off, const __m256i *w, int32_t np,
                        __m256i *lx, __m256i *hx, __m256i *ly, __m256i *hy) {
  __m256i l0 = *lx, h0 = *hx, l1 = *ly, h1 = *hy;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const ptrdiff_t a = off[2 * q], b = off[2 * q + 1];
    const __m256i wl = w[2 * q], wh = w[2 * q + 1];
    __m128i xa = _mm_loadu_si128((const __m128i *)(x + a)), xb = _mm_loadu_si128((const __m128i *)(x + b));
    l0 = _mm256_add_epi32(l0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(xa, xb)), wl));
    h0 = _mm256_add_epi32(h0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(xa, xb)), wh));
    xa = _mm_loadu_si128((const __m128i *)(y + a));
    xb = _mm_loadu_si128((const __m128i *)(y + b));
    l1 = _mm256_add_epi32(l1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(xa, xb)), wl));
    h1 = _mm256_add_epi32(h1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(xa, xb)), wh));
  }
  *lx = l0;
  *hx = h0;
  *ly = l1;
  *hy = h1;
}

/* the block's per-channel state: weight pairs, start values, requantization */
typedef struct {
  __m256i w[DW_MAX_TAPS]; /* tap pair q: w[2q] channels 0-7, w[2q + 1] channels 8-15 (8 lanes: w[q]) */
  __m256i init[2], mult[2], shift[2];
  int8_t stage[DW_MAX_TAPS * DW_STAGE];
} dw_block;

DW_INLINE void store16(const pe_qs8_dw_args *p, const dw_block *b, __m256i lo, __m256i hi, int8_t *o) {
  const __m256i oofs = _mm256_set1_epi32(p->output_offset);
  const __m256i vmin = _mm256_set1_epi32(p->act_min), vmax = _mm256_set1_epi32(p->act_max);
  lo = pe_requant8_avx2(lo, b->mult[0], b->shift[0], oofs, vmin, vmax);
  hi = pe_requant8_avx2(hi, b->mult[1], b->shift[1], oofs, vmin, vmax);
  _mm_storeu_si128((__m128i *)o, pe_pack16_s8_avx2(lo, hi));
}

/* pixels [ox0, ox1) of the block: two interior pixels at a time, border pixels staged */
DW_INLINE void row16(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                     int32_t np, int8_t *out) {
  const int32_t ch = p->channels;
  const __m128i zp = _mm_set1_epi8((char)(int8_t)-p->input_offset);
  const ptrdiff_t step = (ptrdiff_t)p->stride_w * ch;
  int32_t ox, ia, ib;
  interior_range(p, r, ox0, ox1, &ia, &ib);
  for (ox = ox0; ox < ox1; ++ox) {
    __m256i lo = b->init[0], hi = b->init[1];
    if (ox == ia) {
      for (; ox + 2 <= ib; ox += 2) {
        const int8_t *x = p->input + r->row0 + ((ptrdiff_t)ox * p->stride_w - p->pad_w) * ch + c0;
        __m256i l1 = lo, h1 = hi, l0 = lo, h0 = hi;
        taps16x2(x, x + step, r->off, b->w, np, &l0, &h0, &l1, &h1);
        store16(p, b, l0, h0, out + (size_t)(ox - ox0) * ch + c0);
        store16(p, b, l1, h1, out + (size_t)(ox + 1 - ox0) * ch + c0);
      }
      if (ox < ib) {
        taps16(p->input + r->row0 + ((ptrdiff_t)ox * p->stride_w - p->pad_w) * ch + c0, r->off, b->w, np, &lo, &hi);
        store16(p, b, lo, hi, out + (size_t)(ox - ox0) * ch + c0);
        ++ox;
      }
      if (ox >= ox1) break;
      lo = b->init[0];
      hi = b->init[1];
    }
    stage_px(p, r, ox * p->stride_w - p->pad_w, c0, 16, zp, b->stage);
    taps16(b->stage, r->soff, b->w, np, &lo, &hi);
    store16(p, b, lo, hi, out + (size_t)(ox - ox0) * ch + c0);
  }
}

/* 16 channels c0 .. c0 + 15 of pixels [ox0, ox1) */
static void block16(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                    int8_t *out) {
  const int32_t np = r->n / 2;
  const __m256i ones = _mm256_set1_epi16(1), voff = _mm256_set1_epi32(p->input_offset);
  __m256i sl = _mm256_setzero_si256(), sh = sl;
  int32_t q;
  for (q = 0; q < np; ++q) {
    const __m128i wa = load_w16(p, r->widx[2 * q], c0), wb = load_w16(p, r->widx[2 * q + 1], c0);
    b->w[2 * q] = widen_w(p, _mm_unpacklo_epi8(wa, wb));
    b->w[2 * q + 1] = widen_w(p, _mm_unpackhi_epi8(wa, wb));
    sl = _mm256_add_epi32(sl, _mm256_madd_epi16(b->w[2 * q], ones));
    sh = _mm256_add_epi32(sh, _mm256_madd_epi16(b->w[2 * q + 1], ones));
  }
  b->init[0] = start(sl, voff, load_i32x8(p->bias, c0, 8));
  b->init[1] = start(sh, voff, load_i32x8(p->bias, c0 + 8, 8));
  b->mult[0] = load_i32x8(p->mult, c0, 8);
  b->mult[1] = load_i32x8(p->mult, c0 + 8, 8);
  b->shift[0] = load_i32x8(p->shift, c0, 8);
  b->shift[1] = load_i32x8(p->shift, c0 + 8, 8);
  row16(p, r, b, ox0, ox1, c0, np, out);
}

/* ---------------------------------------------------------------- 8 channels */

/* 8 channels c0 .. c0 + 7 of pixels [ox0, ox1); n < 8 (the whole of a layer of n < 8 channels,
 * c0 = 0): n of them, every pixel staged. */
static void block8(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                   int32_t n, int8_t *out) {
  const int32_t ch = p->channels, np = r->n / 2;
  const __m256i ones = _mm256_set1_epi16(1), voff = _mm256_set1_epi32(p->input_offset);
  const __m256i oofs = _mm256_set1_epi32(p->output_offset);
  const __m256i vmin = _mm256_set1_epi32(p->act_min), vmax = _mm256_set1_epi32(p->act_max);
  const __m128i zp = _mm_set1_epi8((char)(int8_t)-p->input_offset);
  __m256i s = _mm256_setzero_si256(), init, m, sf;
  int32_t q, ox, ia, ib;
  for (q = 0; q < np; ++q) {
    const __m128i wa = load_w8(p, r->widx[2 * q], c0, n), wb = load_w8(p, r->widx[2 * q + 1], c0, n);
    b->w[q] = widen_w(p, _mm_unpacklo_epi8(wa, wb));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(b->w[q], ones));
  }
  init = start(s, voff, load_i32x8(p->bias, c0, n));
  m = load_i32x8(p->mult, c0, n);
  sf = load_i32x8(p->shift, c0, n);
  interior_range(p, r, ox0, ox1, &ia, &ib);
  if (n < 8) ia = ib = ox1;
  for (ox = ox0; ox < ox1; ++ox) {
    int8_t *o = out + (size_t)(ox - ox0) * ch + c0;
    const int8_t *base;
    const ptrdiff_t *off;
    __m256i acc = init;
    __m128i y;
    if (ox >= ia && ox < ib) {
      base = p->input + r->row0 + ((ptrdiff_t)ox * p->stride_w - p->pad_w) * ch + c0;
      off = r->off;
    } else {
      stage_px(p, r, ox * p->stride_w - p->pad_w, c0, n, zp, b->stage);
      base = b->stage;
      off = r->soff;
    }
    for (q = 0; q < np; ++q) {
      const __m128i xa = _mm_loadl_epi64((const __m128i *)(base + off[2 * q]));
      const __m128i xb = _mm_loadl_epi64((const __m128i *)(base + off[2 * q + 1]));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(xa, xb)), b->w[q]));
    }
    acc = pe_requant8_avx2(acc, m, sf, oofs, vmin, vmax);
    y = pe_pack16_s8_avx2(acc, acc);
    if (n == 8) {
      _mm_storel_epi64((__m128i *)o, y);
    } else {
      int8_t t[16];
      _mm_storeu_si128((__m128i *)t, y);
      memcpy(o, t, (size_t)n);
    }
  }
}

void pe_qs8_dw_row__avx2(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
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
  for (c0 = 0; c0 + 16 <= ch; c0 += 16) block16(p, &r, &b, ox0, ox1, c0, out);
  if (c0 == ch) return;
  if (ch < 8) {
    block8(p, &r, &b, ox0, ox1, 0, ch, out);
  } else if (ch - c0 <= 8) {
    block8(p, &r, &b, ox0, ox1, ch - 8, 8, out);
  } else if (ch >= 16) {
    block16(p, &r, &b, ox0, ox1, ch - 16, out);
  } else {
    block8(p, &r, &b, ox0, ox1, 0, 8, out);
    block8(p, &r, &b, ox0, ox1, ch - 8, 8, out);
  }
}
