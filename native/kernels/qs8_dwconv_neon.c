/* int8 depthwise row microkernel, NEON (AArch64, ARMv7), depth multiplier 1 (qs8_dwconv.h),
 * bit-identical to the scalar twin.
 *
 * int8 filters, 8 channels or more: vectorized across channels one block at a time (blocks of 16,
 * then the tail as an overlapping last block of 16 or 8, rewriting a few channels with the same
 * values). The input offset is folded into the start value, acc = bias + input_offset * sum(w) +
 * sum(w * x) over the taps of the row's valid filter rows (the same sum modulo 2^32 as the scalar's
 * bias + sum(w * (x + input_offset))), so that the inner loop multiplies the input bytes as they
 * are: SMULL of int8 by int8 gives exact int16 products (|w * x| <= 2^14), SADDW adds them to the
 * int32 sums. A tap left or right of the input reads the input zero point (-input_offset, an
 * int8), whose term w * (zp + offset) is 0 as the skipped tap's is: interior pixels read the input
 * in place, two at a time (each weight vector loaded once for both), border pixels through a small
 * staging buffer. uint8 filters (w = byte - zero point, up to 9 bits), layers of fewer than 8
 * channels and filters of more than DW_MAX_TAPS taps run the direct form below, which adds the
 * offset to every input and widens both operands to int16 (SMLAL). Requantization:
 * pe_requant4_neon, TFLite's exactly. */
#include <stddef.h>

#include "conv.h"
#include "pe_requant_neon.h"
#include "qs8_dwconv.h"

#define DW_MAX_TAPS 64
#define DW_STAGE 16 /* bytes per tap of the staging buffer */
#define DW_INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------------ direct form */

static void dw_row_direct(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels, ch16 = ch / 16 * 16;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  const int16x8_t ioff = vdupq_n_s16((int16_t)p->input_offset), vzp = vdupq_n_s16((int16_t)p->filter_zp);
  const int32x4_t voff = vdupq_n_s32(p->output_offset), vmin = vdupq_n_s32(p->act_min), vmax = vdupq_n_s32(p->act_max);
  int32_t fy0 = 0, fy1 = p->kh, ox, c, fy, fx;
  /* the filter rows inside the input, the same for the whole output row */
  while (fy0 < fy1 && y0 + fy0 * p->dilation_h < 0) ++fy0;
  while (fy1 > fy0 && y0 + (fy1 - 1) * p->dilation_h >= p->in_h) --fy1;
  for (ox = ox0; ox < ox1; ++ox, out += ch) {
    const int32_t x0 = ox * p->stride_w - p->pad_w;
    int32_t fx0 = 0, fx1 = p->kw;
    while (fx0 < fx1 && x0 + fx0 * p->dilation_w < 0) ++fx0;
    while (fx1 > fx0 && x0 + (fx1 - 1) * p->dilation_w >= p->in_w) --fx1;
    for (c = 0; c < ch16; c += 16) {
      int32x4_t acc[4];
      int j;
      for (j = 0; j < 4; ++j) acc[j] = p->bias != NULL ? vld1q_s32(p->bias + c + 4 * j) : vdupq_n_s32(0);
      for (fy = fy0; fy < fy1; ++fy) {
        const int32_t iy = y0 + fy * p->dilation_h;
        for (fx = fx0; fx < fx1; ++fx) {
          const int32_t ix = x0 + fx * p->dilation_w;
          const int8x16_t xv = vld1q_s8(p->input + ((size_t)iy * p->in_w + ix) * ch + c);
          const int8x16_t wv = vld1q_s8(p->filter + (fy * p->kw + fx) * ch + c);
          const int16x8_t xl = vaddq_s16(vmovl_s8(vget_low_s8(xv)), ioff), xh = vaddq_s16(vmovl_s8(vget_high_s8(xv)), ioff);
          int16x8_t wl = vmovl_s8(vget_low_s8(wv)), wh = vmovl_s8(vget_high_s8(wv));
          if (p->filter_u8) { /* uint8 filter: zero-extended, minus its zero point */
            const uint8x16_t wu = vreinterpretq_u8_s8(wv);
            wl = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(wu))), vzp);
            wh = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(wu))), vzp);
          }
          acc[0] = vmlal_s16(acc[0], vget_low_s16(wl), vget_low_s16(xl));
          acc[1] = vmlal_s16(acc[1], vget_high_s16(wl), vget_high_s16(xl));
          acc[2] = vmlal_s16(acc[2], vget_low_s16(wh), vget_low_s16(xh));
          acc[3] = vmlal_s16(acc[3], vget_high_s16(wh), vget_high_s16(xh));
        }
      }
      pe_requant16_store_neon(out + c, 16, acc, p->mult + c, p->shift + c, voff, vmin, vmax);
    }
    for (; c < ch; ++c) {
      uint32_t acc = 0;
      for (fy = fy0; fy < fy1; ++fy) {
        const int32_t iy = y0 + fy * p->dilation_h;
        for (fx = fx0; fx < fx1; ++fx) {
          const int32_t ix = x0 + fx * p->dilation_w;
          const int32_t k = (fy * p->kw + fx) * ch + c;
          const int32_t w = p->filter_u8 ? (int32_t)((const uint8_t *)p->filter)[k] - p->filter_zp : p->filter[k];
          acc += (uint32_t)(w *
                            ((int32_t)p->input[((size_t)iy * p->in_w + ix) * ch + c] + p->input_offset));
        }
      }
      out[c] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, p->bias != NULL ? p->bias[c] : 0, p->mult[c],
                                         p->shift[c], p->output_offset, p->act_min, p->act_max);
    }
  }
}

/* ------------------------------------------------------------------ folded form */

/* The taps of one output row: those of the filter rows inside the input, in filter order. */
typedef struct {
  int32_t n;                  /* taps */
  int32_t xlast;              /* (kw - 1) * dilation_w */
  ptrdiff_t row0;             /* input offset (elements) of the first valid filter row's input row */
  ptrdiff_t off[DW_MAX_TAPS]; /* tap t's input offset from (first valid row, column x0) */
  ptrdiff_t roff[DW_MAX_TAPS]; /* ... its row part */
  ptrdiff_t soff[DW_MAX_TAPS]; /* its offset in the staging buffer */
  int32_t fx[DW_MAX_TAPS];    /* its column offset fx * dilation_w */
  int32_t widx[DW_MAX_TAPS];  /* its filter tap fy * kw + fx */
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
      r->soff[t] = (ptrdiff_t)t * DW_STAGE;
      r->widx[t] = fy * p->kw + fx;
    }
  r->n = t;
}

/* Pixels [*ia, *ib) of [ox0, ox1) are interior (every tap inside the input); none: *ia = *ib = ox1. */
static void interior_range(const pe_qs8_dw_args *p, const dw_row *r, int32_t ox0, int32_t ox1, int32_t *ia,
                           int32_t *ib) {
  const int64_t lim = (int64_t)p->in_w - r->xlast + p->pad_w; /* interior: ox * stride_w < lim */
  int64_t a = p->pad_w > 0 ? ((int64_t)p->pad_w + p->stride_w - 1) / p->stride_w : 0;
  int64_t b = lim > 0 ? (lim + p->stride_w - 1) / p->stride_w : 0;
  if (a < ox0) a = ox0;
  if (b > ox1) b = ox1;
  if (b <= a || r->n == 0) a = b = ox1;
  *ia = (int32_t)a;
  *ib = (int32_t)b;
}

/* one channel block's weights (tap t: w[t * 16 ..]) and per-channel state */
typedef struct {
  int8_t w[DW_MAX_TAPS * 16];
  int32x4_t init[4], mult[4], left[4], right[4]; /* right: min(shift, 0), left: max(shift, 0) */
  int32x4_t voff, vmin, vmax;
  int8_t stage[DW_MAX_TAPS * DW_STAGE];
} dw_block;

/* acc[0..3] += w * x over the n taps of one pixel, 16 channels */
DW_INLINE void taps16(const int8_t *x, const ptrdiff_t *off, const int8_t *w, int32_t n, int32x4_t *acc) {
  int32x4_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t t;
  for (t = 0; t < n; ++t) {
    const int8x16_t wv = vld1q_s8(w + 16 * t), xv = vld1q_s8(x + off[t]);
    const int16x8_t lo = vmull_s8(vget_low_s8(wv), vget_low_s8(xv)), hi = vmull_s8(vget_high_s8(wv), vget_high_s8(xv));
    a0 = vaddw_s16(a0, vget_low_s16(lo));
    a1 = vaddw_s16(a1, vget_high_s16(lo));
    a2 = vaddw_s16(a2, vget_low_s16(hi));
    a3 = vaddw_s16(a3, vget_high_s16(hi));
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* ... of two pixels x, y, each weight vector loaded once */
DW_INLINE void taps16x2(const int8_t *x, const int8_t *y, const ptrdiff_t *off, const int8_t *w, int32_t n,
                        int32x4_t *ax, int32x4_t *ay) {
  int32x4_t a0 = ax[0], a1 = ax[1], a2 = ax[2], a3 = ax[3];
  int32x4_t b0 = ay[0], b1 = ay[1], b2 = ay[2], b3 = ay[3];
  int32_t t;
  for (t = 0; t < n; ++t) {
    const int8x16_t wv = vld1q_s8(w + 16 * t), xv = vld1q_s8(x + off[t]), yv = vld1q_s8(y + off[t]);
    const int8x8_t wl = vget_low_s8(wv), wh = vget_high_s8(wv);
    const int16x8_t xl = vmull_s8(wl, vget_low_s8(xv)), xh = vmull_s8(wh, vget_high_s8(xv));
    const int16x8_t yl = vmull_s8(wl, vget_low_s8(yv)), yh = vmull_s8(wh, vget_high_s8(yv));
    a0 = vaddw_s16(a0, vget_low_s16(xl));
    a1 = vaddw_s16(a1, vget_high_s16(xl));
    a2 = vaddw_s16(a2, vget_low_s16(xh));
    a3 = vaddw_s16(a3, vget_high_s16(xh));
    b0 = vaddw_s16(b0, vget_low_s16(yl));
    b1 = vaddw_s16(b1, vget_high_s16(yl));
    b2 = vaddw_s16(b2, vget_low_s16(yh));
    b3 = vaddw_s16(b3, vget_high_s16(yh));
  }
  ax[0] = a0, ax[1] = a1, ax[2] = a2, ax[3] = a3;
  ay[0] = b0, ay[1] = b1, ay[2] = b2, ay[3] = b3;
}

/* 8 channels: acc[0..1] */
DW_INLINE void taps8(const int8_t *x, const ptrdiff_t *off, const int8_t *w, int32_t n, int32x4_t *acc) {
  int32x4_t a0 = acc[0], a1 = acc[1];
  int32_t t;
  for (t = 0; t < n; ++t) {
    const int16x8_t pr = vmull_s8(vld1_s8(w + 16 * t), vld1_s8(x + off[t]));
    a0 = vaddw_s16(a0, vget_low_s16(pr));
    a1 = vaddw_s16(a1, vget_high_s16(pr));
  }
  acc[0] = a0, acc[1] = a1;
}

DW_INLINE void taps8x2(const int8_t *x, const int8_t *y, const ptrdiff_t *off, const int8_t *w, int32_t n,
                       int32x4_t *ax, int32x4_t *ay) {
  int32x4_t a0 = ax[0], a1 = ax[1], b0 = ay[0], b1 = ay[1];
  int32_t t;
  for (t = 0; t < n; ++t) {
    const int8x8_t wv = vld1_s8(w + 16 * t);
    const int16x8_t px = vmull_s8(wv, vld1_s8(x + off[t])), py = vmull_s8(wv, vld1_s8(y + off[t]));
    a0 = vaddw_s16(a0, vget_low_s16(px));
    a1 = vaddw_s16(a1, vget_high_s16(px));
    b0 = vaddw_s16(b0, vget_low_s16(py));
    b1 = vaddw_s16(b1, vget_high_s16(py));
  }
  ax[0] = a0, ax[1] = a1, ay[0] = b0, ay[1] = b1;
}

/* requantize nv (2 or 4) vectors of sums and store their 4 * nv bytes */
DW_INLINE void store_block(const dw_block *b, const int32x4_t *acc, int nv, int8_t *o) {
  int32x4_t r[4];
  int j;
  for (j = 0; j < nv; ++j) { /* pe_requant4_neon with the shift's two parts split once per block */
    int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc[j], b->left[j]), b->mult[j]);
    x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, b->right[j]), 31));
    x = vaddq_s32(vrshlq_s32(x, b->right[j]), b->voff);
    r[j] = vminq_s32(vmaxq_s32(x, b->vmin), b->vmax);
  }
  if (nv == 4) {
    vst1q_s8(o, pe_pack16_s8_neon(r[0], r[1], r[2], r[3]));
  } else {
    const int16x8_t h = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]));
    vst1_s8(o, vqmovn_s16(h));
  }
}

/* Border pixel at column x0: the block's bytes (nb: 8 or 16) of every tap into the staging
 * buffer, the input zero point for a tap outside the input. */
DW_INLINE void stage_px(const pe_qs8_dw_args *p, const dw_row *r, int32_t x0, int32_t c0, int32_t nb, int8_t *stage) {
  const int8x16_t zp = vdupq_n_s8((int8_t)-p->input_offset);
  int32_t t;
  for (t = 0; t < r->n; ++t) {
    const int32_t ix = x0 + r->fx[t];
    int8_t *d = stage + r->soff[t];
    if (ix < 0 || ix >= p->in_w) {
      vst1q_s8(d, zp);
    } else {
      const int8_t *s = p->input + r->row0 + r->roff[t] + (ptrdiff_t)ix * p->channels + c0;
      if (nb == 16)
        vst1q_s8(d, vld1q_s8(s));
      else
        vst1_s8(d, vld1_s8(s));
    }
  }
}

/* Channels c0 .. c0 + nb - 1 (nb: 8 or 16) of pixels [ox0, ox1). */
DW_INLINE void block(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                     int32_t nb, int8_t *out) {
  const int32_t ch = p->channels, n = r->n, nv = nb / 4;
  const ptrdiff_t step = (ptrdiff_t)p->stride_w * ch;
  int32x4_t s[4];
  int32_t t, j, ox, ia, ib;
  for (j = 0; j < 4; ++j) s[j] = vdupq_n_s32(0);
  for (t = 0; t < n; ++t) { /* the block's weights, tap by tap, and their sums per channel */
    const int8_t *src = p->filter + (size_t)r->widx[t] * ch + c0;
    const int8x16_t wv = nb == 16 ? vld1q_s8(src) : vcombine_s8(vld1_s8(src), vdup_n_s8(0));
    const int16x8_t lo = vmovl_s8(vget_low_s8(wv)), hi = vmovl_s8(vget_high_s8(wv));
    vst1q_s8(b->w + 16 * t, wv);
    s[0] = vaddw_s16(s[0], vget_low_s16(lo));
    s[1] = vaddw_s16(s[1], vget_high_s16(lo));
    s[2] = vaddw_s16(s[2], vget_low_s16(hi));
    s[3] = vaddw_s16(s[3], vget_high_s16(hi));
  }
  for (j = 0; j < nv; ++j) {
    const int32x4_t bias = p->bias != NULL ? vld1q_s32(p->bias + c0 + 4 * j) : vdupq_n_s32(0);
    b->init[j] = vmlaq_n_s32(bias, s[j], p->input_offset); /* wraps as the scalar sum does */
    b->mult[j] = vld1q_s32(p->mult + c0 + 4 * j);
    b->left[j] = vmaxq_s32(vld1q_s32(p->shift + c0 + 4 * j), vdupq_n_s32(0));
    b->right[j] = vminq_s32(vld1q_s32(p->shift + c0 + 4 * j), vdupq_n_s32(0));
  }
  b->voff = vdupq_n_s32(p->output_offset);
  b->vmin = vdupq_n_s32(p->act_min);
  b->vmax = vdupq_n_s32(p->act_max);
  interior_range(p, r, ox0, ox1, &ia, &ib);
  for (ox = ox0; ox < ox1; ++ox) {
    int32x4_t a[4] = {b->init[0], b->init[1], b->init[2], b->init[3]};
    if (ox == ia) {
      for (; ox + 2 <= ib; ox += 2) {
        const int8_t *x = p->input + r->row0 + ((ptrdiff_t)ox * p->stride_w - p->pad_w) * ch + c0;
        int32x4_t c[4] = {b->init[0], b->init[1], b->init[2], b->init[3]};
        int32x4_t d[4] = {b->init[0], b->init[1], b->init[2], b->init[3]};
        if (nb == 16) {
          if (n == 9)
            taps16x2(x, x + step, r->off, b->w, 9, c, d);
          else
            taps16x2(x, x + step, r->off, b->w, n, c, d);
        } else {
          if (n == 9)
            taps8x2(x, x + step, r->off, b->w, 9, c, d);
          else
            taps8x2(x, x + step, r->off, b->w, n, c, d);
        }
        store_block(b, c, nv, out + (size_t)(ox - ox0) * ch + c0);
        store_block(b, d, nv, out + (size_t)(ox + 1 - ox0) * ch + c0);
      }
      if (ox < ib) {
        const int8_t *x = p->input + r->row0 + ((ptrdiff_t)ox * p->stride_w - p->pad_w) * ch + c0;
        if (nb == 16)
          taps16(x, r->off, b->w, n, a);
        else
          taps8(x, r->off, b->w, n, a);
        store_block(b, a, nv, out + (size_t)(ox - ox0) * ch + c0);
        ++ox;
      }
      if (ox >= ox1) break;
      for (j = 0; j < 4; ++j) a[j] = b->init[j];
    }
    stage_px(p, r, ox * p->stride_w - p->pad_w, c0, nb, b->stage);
    if (nb == 16)
      taps16(b->stage, r->soff, b->w, n, a);
    else
      taps8(b->stage, r->soff, b->w, n, a);
    store_block(b, a, nv, out + (size_t)(ox - ox0) * ch + c0);
  }
}

static void block16(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                    int8_t *out) {
  block(p, r, b, ox0, ox1, c0, 16, out);
}

static void block8(const pe_qs8_dw_args *p, const dw_row *r, dw_block *b, int32_t ox0, int32_t ox1, int32_t c0,
                   int8_t *out) {
  block(p, r, b, ox0, ox1, c0, 8, out);
}

void pe_qs8_dw_row__neon(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels;
  dw_row r;
  dw_block b;
  int32_t c0;
  if (p->filter_u8 || ch < 8 || (int64_t)p->kh * p->kw > DW_MAX_TAPS) {
    dw_row_direct(p, oy, ox0, ox1, out);
    return;
  }
  row_setup(p, oy, &r);
  for (c0 = 0; c0 + 16 <= ch; c0 += 16) block16(p, &r, &b, ox0, ox1, c0, out);
  if (c0 < ch) { /* the tail: an overlapping last block */
    if (ch - c0 > 8 && ch >= 16) {
      block16(p, &r, &b, ox0, ox1, ch - 16, out);
    } else {
      if (ch - c0 > 8) block8(p, &r, &b, ox0, ox1, c0, out); /* 9 .. 15 channels */
      block8(p, &r, &b, ox0, ox1, ch - 8, out);
    }
  }
}
