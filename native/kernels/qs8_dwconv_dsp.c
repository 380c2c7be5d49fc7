/* Depthwise row microkernel for the Cortex-M DSP extension (qs8_dwconv.h), bit-identical to
 * pe_qs8_dw_row__scalar.
 *
 * Four channels at a time: one 32-bit load holds a tap's 4 input bytes, another its 4 filter
 * bytes; SXTB16 (and SXTB16 with ROR #8) splits each into int16 pairs (channels 0, 2 and 1, 3),
 * and SMLABB / SMLATT multiply-accumulate the bottom and top halves into one int32 per channel
 * (exact products, wrapping sums, as the scalar kernel's uint32 accumulator). 3x3 filters
 * (dilation 1, any stride and padding) run every pixel of the row on one path: per chunk of up
 * to 32 channels the input offset times each channel's weight sum is added once (with the bias;
 * the sums formed in int16 halves with SADD16), the weights are split into int16 pairs and each
 * channel's requantization constants prepared once. Pixels whose taps all lie inside read the
 * input in place; the others (and every pixel of a row whose taps leave the input vertically)
 * read a stack strip padded with -input_offset (x + input_offset = 0: a padding tap adds nothing,
 * as TFLite's skipped taps). A tap is one load, two SXTB16 and four multiply-accumulates.
 * Other filters: the general path, taps outside the input skipped (the valid range found once per pixel), the offset added to each input (SADD16).
 * The last channels (fewer than 4) take the scalar arithmetic. Built on M-profile cores with DSP
 * only (PE_DSP_KERNELS). */
#include "pe_kernel.h"

#if PE_DSP_KERNELS
#include <arm_acle.h>

#include "conv.h"
#include "pe_requant_dsp.h"
#include "qs8_dwconv.h"

static inline uint32_t ld32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline int32_t sxtb16_ror8(uint32_t x) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}

/* the taps t in [0, k) with 0 <= start + t * dil < size: [*lo, *hi) */
static inline void tap_range(int32_t start, int32_t k, int32_t dil, int32_t size, int32_t *lo, int32_t *hi) {
  int32_t a = 0, b = k;
  while (a < b && start + a * dil < 0) ++a;
  while (b > a && start + (b - 1) * dil >= size) --b;
  *lo = a;
  *hi = b;
}

static inline int8_t dw_out(const pe_qs8_dw_args *p, int32_t c, int32_t acc, int32_t bias) {
  return pe_dsp_requant(pe_conv_add_wrap(acc, bias), pe_dsp_rq_channel(p->mult[c], p->shift[c]), p->output_offset,
                        p->act_min, p->act_max);
}

#define PE_DW_DSP_CH 32       /* channels the 3x3 path prepares at a time (1.3 KiB of stack) */
#define PE_DW_DSP_STRIP 3072  /* bytes of its padded input strip (stack) */

/* One output pixel of a 3x3 filter (dilation 1) for channels [c0, c0 + 4 * groups) of the chunk:
   x0 the pixel's top-left tap in the strip (col bytes between columns, row bytes between rows),
   base[c] = bias + input_offset * the channel's weight sum (mod 2^32, the sum the scalar kernel
   forms tap by tap), so the taps need no offset; each group's 9 weight words come already split
   into int16 pairs (wq: 18 words per group of 4 channels), q the channels' requantization. A tap
   is one load, two SXTB16 and four multiply-accumulates. full: the clamp is int8's range. */
static PE_DSP_RQ_INLINE void dw3x3_px(const int8_t *x0, size_t col, size_t row, const int32_t *base, const int32_t *wq,
                            const pe_dsp_rq *q, int32_t groups, int32_t oo, int32_t lo, int32_t hi, int right,
                            int full, int8_t *o) {
  int32_t g;
  for (g = 0; g < groups; ++g, x0 += 4, wq += 18, base += 4, q += 4, o += 4) {
    const int8_t *xr = x0;
    const int32_t *w = wq;
    int32_t a0 = base[0], a1 = base[1], a2 = base[2], a3 = base[3], fy;
    for (fy = 0; fy < 3; ++fy, xr += row, w += 6) {
      const uint32_t u = ld32(xr), v = ld32(xr + col), t = ld32(xr + 2 * col);
      int32_t e = (int32_t)__sxtb16(u), d = sxtb16_ror8(u);
      a0 = __smlabb(w[0], e, a0);
      a2 = __smlatt(w[0], e, a2);
      a1 = __smlabb(w[1], d, a1);
      a3 = __smlatt(w[1], d, a3);
      e = (int32_t)__sxtb16(v);
      d = sxtb16_ror8(v);
      a0 = __smlabb(w[2], e, a0);
      a2 = __smlatt(w[2], e, a2);
      a1 = __smlabb(w[3], d, a1);
      a3 = __smlatt(w[3], d, a3);
      e = (int32_t)__sxtb16(t);
      d = sxtb16_ror8(t);
      a0 = __smlabb(w[4], e, a0);
      a2 = __smlatt(w[4], e, a2);
      a1 = __smlabb(w[5], d, a1);
      a3 = __smlatt(w[5], d, a3);
    }
    o[0] = pe_dsp_requant_k(a0, q[0], oo, lo, hi, right, full);
    o[1] = pe_dsp_requant_k(a1, q[1], oo, lo, hi, right, full);
    o[2] = pe_dsp_requant_k(a2, q[2], oo, lo, hi, right, full);
    o[3] = pe_dsp_requant_k(a3, q[3], oo, lo, hi, right, full);
  }
}

/* The general case: taps [fy_lo, fy_hi) x [fx_lo, fx_hi), the offset added to each input. */
static void dw_general(const pe_qs8_dw_args *p, int32_t y0, int32_t fy_lo, int32_t fy_hi, int32_t ox, int32_t c_start,
                       int8_t *out) {
  const int32_t ch = p->channels;
  const size_t row_step = (size_t)p->dilation_h * p->in_w * ch, col_step = (size_t)p->dilation_w * ch;
  const size_t frow_step = (size_t)p->kw * ch;
  const int32_t off2 = (int32_t)(((uint32_t)(uint16_t)p->input_offset << 16) | (uint16_t)p->input_offset);
  const int32_t x0 = ox * p->stride_w - p->pad_w;
  int32_t fx_lo, fx_hi, c;
  const int8_t *in0, *f0;
  tap_range(x0, p->kw, p->dilation_w, p->in_w, &fx_lo, &fx_hi);
  in0 = p->input + ((size_t)(y0 + fy_lo * p->dilation_h) * p->in_w + (x0 + fx_lo * p->dilation_w)) * ch;
  f0 = p->filter + ((size_t)fy_lo * p->kw + fx_lo) * ch;
  for (c = c_start; c + 4 <= ch; c += 4) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, fy, fx;
    const int8_t *ir = in0 + c, *fr = f0 + c;
    const int32_t *b = p->bias;
    for (fy = fy_lo; fy < fy_hi; ++fy, ir += row_step, fr += frow_step) {
      const int8_t *ip = ir, *fp = fr;
      for (fx = fx_lo; fx < fx_hi; ++fx, ip += col_step, fp += ch) {
        const uint32_t xv = ld32(ip), wv = ld32(fp);
        const int32_t xe = (int32_t)__sadd16(__sxtb16(xv), off2), xo = (int32_t)__sadd16(sxtb16_ror8(xv), off2);
        const int32_t we = (int32_t)__sxtb16(wv), wo = sxtb16_ror8(wv);
        a0 = __smlabb(we, xe, a0);
        a2 = __smlatt(we, xe, a2);
        a1 = __smlabb(wo, xo, a1);
        a3 = __smlatt(wo, xo, a3);
      }
    }
    out[c] = dw_out(p, c, a0, b ? b[c] : 0);
    out[c + 1] = dw_out(p, c + 1, a1, b ? b[c + 1] : 0);
    out[c + 2] = dw_out(p, c + 2, a2, b ? b[c + 2] : 0);
    out[c + 3] = dw_out(p, c + 3, a3, b ? b[c + 3] : 0);
  }
  for (; c < ch; ++c) {
    uint32_t acc = 0;
    int32_t fy, fx;
    const int8_t *ir = in0 + c, *fr = f0 + c;
    for (fy = fy_lo; fy < fy_hi; ++fy, ir += row_step, fr += frow_step) {
      const int8_t *ip = ir, *fp = fr;
      for (fx = fx_lo; fx < fx_hi; ++fx, ip += col_step, fp += ch)
        acc += (uint32_t)((int32_t)*fp * ((int32_t)*ip + p->input_offset));
    }
    out[c] = dw_out(p, c, (int32_t)acc, p->bias != NULL ? p->bias[c] : 0);
  }
}

/* 3x3 filters, dilation 1, any stride and padding: per chunk of channels the three input rows the
   output row reads are copied into a strip padded with the value whose x + input_offset is 0
   (-input_offset: a tap in the padding adds nothing, as TFLite's skipped taps), so every pixel
   takes the same path. Returns 0 (nothing written) when a strip of 4 channels does not fit. */
static int dw3x3_row(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels, ch4 = ch & ~3, sw = p->stride_w;
  const int32_t y0 = oy * p->stride_h - p->pad_h, xs = ox0 * sw - p->pad_w;
  const int32_t width = (ox1 - 1 - ox0) * sw + 3; /* strip columns: input x from xs */
  const uint32_t pad4 = 0x01010101u * (uint8_t)(-p->input_offset);
  const int32_t oo = p->output_offset, lo = p->act_min, hi = p->act_max;
  const int full = lo == -128 && hi == 127, rows_inside = y0 >= 0 && y0 + 3 <= p->in_h;
  int right;
  int32_t cmax = PE_DW_DSP_STRIP / (3 * width) & ~3, c0, c, g, t, fy, x, ox;
  int8_t strip[PE_DW_DSP_STRIP];
  int32_t base[PE_DW_DSP_CH], wq[PE_DW_DSP_CH / 4 * 18];
  pe_dsp_rq q[PE_DW_DSP_CH];
  if (cmax > PE_DW_DSP_CH) cmax = PE_DW_DSP_CH;
  if (cmax < 4) return 0;
  for (c0 = 0; c0 < ch4; c0 += cmax) {
    const int32_t cc = ch4 - c0 < cmax ? ch4 - c0 : cmax;
    const size_t col = (size_t)cc, row = (size_t)width * col;
    right = 1;
    for (c = 0; c < cc; ++c) {
      right &= p->shift[c0 + c] <= -1;
      q[c] = pe_dsp_rq_channel(p->mult[c0 + c], p->shift[c0 + c]);
    }
    /* the weights split into int16 pairs, and the 4 channels' weight sums in int16 halves
       (|sum| <= 9 * 128) */
    for (g = 0; g < cc / 4; ++g) {
      uint32_t se = 0, so = 0;
      const uint32_t b0 = p->bias != NULL ? (uint32_t)p->bias[c0 + 4 * g] : 0u,
                     b1 = p->bias != NULL ? (uint32_t)p->bias[c0 + 4 * g + 1] : 0u,
                     b2 = p->bias != NULL ? (uint32_t)p->bias[c0 + 4 * g + 2] : 0u,
                     b3 = p->bias != NULL ? (uint32_t)p->bias[c0 + 4 * g + 3] : 0u;
      const uint32_t off = (uint32_t)p->input_offset;
      for (t = 0; t < 9; ++t) {
        const uint32_t wv = ld32(p->filter + t * ch + c0 + 4 * g);
        const int32_t e = (int32_t)__sxtb16(wv), o = sxtb16_ror8(wv);
        wq[18 * g + 2 * t] = e;
        wq[18 * g + 2 * t + 1] = o;
        se = __sadd16(se, (uint32_t)e);
        so = __sadd16(so, (uint32_t)o);
      }
      base[4 * g] = (int32_t)(b0 + (uint32_t)(int32_t)(int16_t)se * off);
      base[4 * g + 2] = (int32_t)(b2 + (uint32_t)((int32_t)se >> 16) * off);
      base[4 * g + 1] = (int32_t)(b1 + (uint32_t)(int32_t)(int16_t)so * off);
      base[4 * g + 3] = (int32_t)(b3 + (uint32_t)((int32_t)so >> 16) * off);
    }
    if (rows_inside) {
      /* the pixels whose taps all lie inside read the input in place; the others a 3 x 3 strip */
      for (ox = ox0; ox < ox1; ++ox) {
        const int32_t ix0 = ox * sw - p->pad_w;
        const int8_t *x0;
        size_t pc = (size_t)ch, pr = (size_t)p->in_w * ch;
        if (ix0 >= 0 && ix0 + 3 <= p->in_w) {
          x0 = p->input + ((size_t)y0 * p->in_w + ix0) * ch + c0;
        } else {
          for (fy = 0; fy < 3; ++fy)
            for (x = 0; x < 3; ++x) {
              int8_t *dst = strip + ((size_t)fy * 3 + x) * col;
              const int32_t ix = ix0 + x;
              if (ix < 0 || ix >= p->in_w) {
                for (c = 0; c < cc; c += 4) memcpy(dst + c, &pad4, 4);
              } else {
                const int8_t *src = p->input + ((size_t)(y0 + fy) * p->in_w + ix) * ch + c0;
                for (c = 0; c < cc; c += 4) memcpy(dst + c, src + c, 4);
              }
            }
          x0 = strip;
          pc = col;
          pr = 3 * col;
        }
#define PE_DW_DSP_PX(right_, full_) \
  dw3x3_px(x0, pc, pr, base, wq, q, cc / 4, oo, lo, hi, right_, full_, out + (size_t)(ox - ox0) * ch + c0)
        PE_DSP_RQ_DISPATCH(PE_DW_DSP_PX, right, full);
#undef PE_DW_DSP_PX
      }
      continue;
    }
    for (fy = 0; fy < 3; ++fy) {
      const int32_t iy = y0 + fy;
      int8_t *dst = strip + (size_t)fy * row;
      for (x = 0; x < width; ++x, dst += cc) {
        const int32_t ix = xs + x;
        if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
          for (c = 0; c < cc; c += 4) memcpy(dst + c, &pad4, 4);
        } else {
          const int8_t *src = p->input + ((size_t)iy * p->in_w + ix) * ch + c0;
          for (c = 0; c < cc; c += 4) memcpy(dst + c, src + c, 4);
        }
      }
    }
#define PE_DW_DSP_PIXELS(right_, full_)                                                                      \
  for (ox = ox0; ox < ox1; ++ox)                                                                                  \
    dw3x3_px(strip + (size_t)(ox - ox0) * sw * col, col, row, base, wq, q, cc / 4, oo, lo, hi, right_, full_,       \
             out + (size_t)(ox - ox0) * ch + c0)
    PE_DSP_RQ_DISPATCH(PE_DW_DSP_PIXELS, right, full);
#undef PE_DW_DSP_PIXELS
  }
  if (ch4 < ch) { /* the last channels, fewer than 4 */
    int32_t fy_lo, fy_hi;
    tap_range(y0, 3, 1, p->in_h, &fy_lo, &fy_hi);
    for (ox = ox0; ox < ox1; ++ox) dw_general(p, y0, fy_lo, fy_hi, ox, ch4, out + (size_t)(ox - ox0) * ch);
  }
  return 1;
}

static void dw_row_dsp_s8(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  int32_t fy_lo, fy_hi, ox;
  if (ox1 <= ox0) return;
  if (p->kh == 3 && p->kw == 3 && p->dilation_h == 1 && p->dilation_w == 1 && dw3x3_row(p, oy, ox0, ox1, out)) return;
  tap_range(y0, p->kh, p->dilation_h, p->in_h, &fy_lo, &fy_hi);
  for (ox = ox0; ox < ox1; ++ox) dw_general(p, y0, fy_lo, fy_hi, ox, 0, out + (size_t)(ox - ox0) * p->channels);
}
/* uint8 filters (w = byte - filter_zp) run the scalar twin here: the loops above read int8 bytes */
void pe_qs8_dw_row__dsp(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  if (p->filter_u8)
    pe_qs8_dw_row__scalar(p, oy, ox0, ox1, out);
  else
    dw_row_dsp_s8(p, oy, ox0, ox1, out);
}
#else
typedef int pe_qs8_dwconv_dsp_unused; /* ISO C: a translation unit holds a declaration */
#endif
