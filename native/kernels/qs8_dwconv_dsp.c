/* Depthwise row microkernel for the Cortex-M DSP extension (qs8_dwconv.h), bit-identical to
 * pe_qs8_dw_row__scalar.
 *
 * Four channels at a time: one 32-bit load holds a tap's 4 input bytes, another its 4 filter
 * bytes; SXTB16 (and SXTB16 with ROR #8) splits each into int16 pairs (channels 0, 2 and 1, 3),
 * SADD16 adds the input offset to both halves (x + input_offset is in [-255, 255]), and
 * SMLABB / SMLATT multiply-accumulate the bottom and top halves into one int32 per channel
 * (exact products, wrapping sums, as the scalar kernel's uint32 accumulator). Taps outside the
 * input are skipped: the valid tap range is found once per pixel. 3x3 filters (dilation 1) take
 * a fast path on the pixels whose taps all lie inside: per row call and 64 channels, the input
 * offset times each channel's weight sum is added once (with the bias) and the weights are split
 * into int16 pairs once, so a tap is one load, two SXTB16 and four multiply-accumulates.
 * The last channels (fewer than 4) take the scalar arithmetic. Built on M-profile cores with DSP only (PE_DSP_KERNELS). */
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

#define PE_DW_DSP_CHUNK 64 /* channels the 3x3 fast path prepares at a time (1.3 KiB of stack) */

/* Every pixel of [ox0, ox1) whose 3x3 taps (dilation 1) all lie inside the input, for channels
   [c0, c0 + 4 * groups): base[c] = bias + input_offset * sum of the channel's 9 weights (mod 2^32,
   the sum the scalar kernel forms tap by tap), so the taps need no offset, and each group's 9
   weight words come already split into int16 pairs (wq: 18 words per group of 4 channels). */
static void dw3x3_inside(const pe_qs8_dw_args *p, const int32_t *base, const int32_t *wq0, int32_t groups, int32_t c0,
                         int32_t y0, int32_t ox, int8_t *out) {
  const int32_t ch = p->channels;
  const size_t in_row = (size_t)p->in_w * ch;
  const int8_t *x0 = p->input + ((size_t)y0 * p->in_w + (ox * p->stride_w - p->pad_w)) * ch + c0;
  /* locals: the int8 stores below may alias anything, so nothing is re-read from p */
  const int32_t *mult = p->mult + c0, *shift = p->shift + c0;
  const int32_t oo = p->output_offset, lo = p->act_min, hi = p->act_max;
  int8_t *o = out + c0;
  int32_t g;
  for (g = 0; g < groups; ++g, x0 += 4, wq0 += 18, base += 4, mult += 4, shift += 4, o += 4) {
    const int8_t *xr = x0;
    const int32_t *wq = wq0;
    int32_t a0 = base[0], a1 = base[1], a2 = base[2], a3 = base[3], fy;
    for (fy = 0; fy < 3; ++fy, xr += in_row, wq += 6) {
      const uint32_t u = ld32(xr), v = ld32(xr + ch), w = ld32(xr + 2 * ch);
      int32_t e = (int32_t)__sxtb16(u), d = sxtb16_ror8(u);
      a0 = __smlabb(wq[0], e, a0);
      a2 = __smlatt(wq[0], e, a2);
      a1 = __smlabb(wq[1], d, a1);
      a3 = __smlatt(wq[1], d, a3);
      e = (int32_t)__sxtb16(v);
      d = sxtb16_ror8(v);
      a0 = __smlabb(wq[2], e, a0);
      a2 = __smlatt(wq[2], e, a2);
      a1 = __smlabb(wq[3], d, a1);
      a3 = __smlatt(wq[3], d, a3);
      e = (int32_t)__sxtb16(w);
      d = sxtb16_ror8(w);
      a0 = __smlabb(wq[4], e, a0);
      a2 = __smlatt(wq[4], e, a2);
      a1 = __smlabb(wq[5], d, a1);
      a3 = __smlatt(wq[5], d, a3);
    }
    {
      const int8_t r0 = pe_dsp_requant(a0, pe_dsp_rq_channel(mult[0], shift[0]), oo, lo, hi);
      const int8_t r1 = pe_dsp_requant(a1, pe_dsp_rq_channel(mult[1], shift[1]), oo, lo, hi);
      const int8_t r2 = pe_dsp_requant(a2, pe_dsp_rq_channel(mult[2], shift[2]), oo, lo, hi);
      const int8_t r3 = pe_dsp_requant(a3, pe_dsp_rq_channel(mult[3], shift[3]), oo, lo, hi);
      o[0] = r0;
      o[1] = r1;
      o[2] = r2;
      o[3] = r3;
    }
  }
}

/* The general case: taps [fy_lo, fy_hi) x [fx_lo, fx_hi), the offset added to each input. */
static void dw_general(const pe_qs8_dw_args *p, int32_t y0, int32_t fy_lo, int32_t fy_hi, int32_t ox, int8_t *out) {
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
  for (c = 0; c + 4 <= ch; c += 4) {
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

static void dw_row_dsp_s8(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels, ch4 = ch & ~3;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  int32_t fy_lo, fy_hi, ox, in_lo = ox1, in_hi = ox1;
  tap_range(y0, p->kh, p->dilation_h, p->in_h, &fy_lo, &fy_hi);
  /* the pixels whose 3x3 taps all lie inside: [in_lo, in_hi) */
  if (p->kh == 3 && p->kw == 3 && p->dilation_h == 1 && p->dilation_w == 1 && fy_lo == 0 && fy_hi == 3) {
    in_lo = ox0;
    while (in_lo < ox1 && in_lo * p->stride_w - p->pad_w < 0) ++in_lo;
    in_hi = in_lo;
    while (in_hi < ox1 && in_hi * p->stride_w - p->pad_w + 3 <= p->in_w) ++in_hi;
  }
  for (ox = ox0; ox < ox1; ++ox)
    if (ox < in_lo || ox >= in_hi) dw_general(p, y0, fy_lo, fy_hi, ox, out + (size_t)(ox - ox0) * ch);
  if (in_hi > in_lo) {
    int32_t base[PE_DW_DSP_CHUNK], wq[PE_DW_DSP_CHUNK / 4 * 18];
    int32_t c0, c, g, t;
    for (c0 = 0; c0 < ch4; c0 += PE_DW_DSP_CHUNK) {
      const int32_t n = ch4 - c0 < PE_DW_DSP_CHUNK ? ch4 - c0 : PE_DW_DSP_CHUNK;
      for (c = 0; c < n; ++c) {
        uint32_t sum = 0;
        for (t = 0; t < 9; ++t) sum += (uint32_t)(int32_t)p->filter[t * ch + c0 + c];
        base[c] = (int32_t)((p->bias != NULL ? (uint32_t)p->bias[c0 + c] : 0u) + sum * (uint32_t)p->input_offset);
      }
      for (g = 0; g < n / 4; ++g)
        for (t = 0; t < 9; ++t) {
          const uint32_t wv = ld32(p->filter + t * ch + c0 + 4 * g);
          wq[18 * g + 2 * t] = (int32_t)__sxtb16(wv);
          wq[18 * g + 2 * t + 1] = sxtb16_ror8(wv);
        }
      for (ox = in_lo; ox < in_hi; ++ox) dw3x3_inside(p, base, wq, n / 4, c0, y0, ox, out + (size_t)(ox - ox0) * ch);
    }
    for (ox = in_lo; ox < in_hi && ch4 < ch; ++ox) { /* the last channels, fewer than 4 */
      const int8_t *x0 = p->input + ((size_t)y0 * p->in_w + (ox * p->stride_w - p->pad_w)) * ch;
      for (c = ch4; c < ch; ++c) {
        uint32_t acc = 0;
        for (t = 0; t < 9; ++t)
          acc += (uint32_t)((int32_t)p->filter[t * ch + c] *
                            ((int32_t)x0[((size_t)(t / 3) * p->in_w + (size_t)(t % 3)) * ch + c] + p->input_offset));
        out[(size_t)(ox - ox0) * ch + c] = dw_out(p, c, (int32_t)acc, p->bias != NULL ? p->bias[c] : 0);
      }
    }
  }
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
