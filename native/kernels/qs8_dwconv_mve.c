/* Depthwise row microkernel for Cortex-M Helium (MVE, Armv8.1-M: Cortex-M55/M85)
 * (qs8_dwconv.h), bit-identical to pe_qs8_dw_row__scalar.
 *
 * Eight channels at a time: VLDRB.S16 loads a tap's 8 input bytes and 8 filter bytes widened to
 * int16, the input offset is added (x + input_offset is in [-255, 255]), VMULLB / VMULLT form
 * the exact int32 products of the even and odd channels and two int32 accumulators (channels
 * 0, 2, 4, 6 and 1, 3, 5, 7) sum them, wrapping as the scalar kernel's. The requantization is
 * TFLite's on 4 lanes (VQRDMULH, VRSHL with the ties-away fix, as the Helium GEMM), with each
 * lane's multiplier and shift gathered, and the bytes go back to their channels with a byte
 * scatter. Taps outside the input are skipped (the valid tap range is found once per pixel);
 * the last channels (fewer than 8) take the scalar arithmetic. Rows of at least 12 pixels of a
 * 3x3 filter (dilation 1) take a path that prepares the channels' constants once per row
 * (dw3x3_row_mve: no input offset per tap, no gathers per pixel, borders through a padded strip). Built on M-profile cores with
 * integer MVE only (PE_MVE_KERNELS); elsewhere this file is empty. */
#include "pe_kernel.h"

#if PE_MVE_KERNELS
#include <arm_mve.h>

#include "conv.h"
#include "qs8_dwconv.h"

static inline int32x4_t requant4(int32x4_t acc, int32x4_t mult, int32x4_t shift, int32x4_t vout, int32x4_t vmin,
                                 int32x4_t vmax) {
  const int32x4_t zero = vdupq_n_s32(0);
  const int32x4_t left = vmaxq_s32(shift, zero), right = vminq_s32(shift, zero);
  int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
  x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31));
  x = vaddq_s32(vrshlq_s32(x, right), vout);
  return vminq_s32(vmaxq_s32(x, vmin), vmax);
}

static inline void tap_range(int32_t start, int32_t k, int32_t dil, int32_t size, int32_t *lo, int32_t *hi) {
  int32_t a = 0, b = k;
  while (a < b && start + a * dil < 0) ++a;
  while (b > a && start + (b - 1) * dil >= size) --b;
  *lo = a;
  *hi = b;
}

static void dw_row_mve_s8(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels, ch8 = ch & ~7;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  const size_t row_step = (size_t)p->dilation_h * p->in_w * ch, col_step = (size_t)p->dilation_w * ch;
  const size_t frow_step = (size_t)p->kw * ch;
  const int16_t off = (int16_t)p->input_offset;
  const uint32x4_t even = vidupq_n_u32(0, 2), odd = vidupq_n_u32(1, 2); /* lanes' channels */
  const int32x4_t vout = vdupq_n_s32(p->output_offset), vmin = vdupq_n_s32(p->act_min),
                  vmax = vdupq_n_s32(p->act_max);
  int32_t fy_lo, fy_hi, ox, c;
  tap_range(y0, p->kh, p->dilation_h, p->in_h, &fy_lo, &fy_hi);
  for (ox = ox0; ox < ox1; ++ox, out += ch) {
    const int32_t x0 = ox * p->stride_w - p->pad_w;
    int32_t fx_lo, fx_hi;
    const int8_t *in0, *f0;
    tap_range(x0, p->kw, p->dilation_w, p->in_w, &fx_lo, &fx_hi);
    in0 = p->input + ((size_t)(y0 + fy_lo * p->dilation_h) * p->in_w + (x0 + fx_lo * p->dilation_w)) * ch;
    f0 = p->filter + ((size_t)fy_lo * p->kw + fx_lo) * ch;
    for (c = 0; c < ch8; c += 8) {
      int32x4_t ae, ao;
      int32_t fy, fx;
      const int8_t *ir = in0 + c, *fr = f0 + c;
      if (p->bias != NULL) {
        ae = vldrwq_gather_shifted_offset_s32(p->bias + c, even);
        ao = vldrwq_gather_shifted_offset_s32(p->bias + c, odd);
      } else {
        ae = ao = vdupq_n_s32(0);
      }
      for (fy = fy_lo; fy < fy_hi; ++fy, ir += row_step, fr += frow_step) {
        const int8_t *ip = ir, *fp = fr;
        for (fx = fx_lo; fx < fx_hi; ++fx, ip += col_step, fp += ch) {
          const int16x8_t x = vaddq_n_s16(vldrbq_s16(ip), off), w = vldrbq_s16(fp);
          ae = vaddq_s32(ae, vmullbq_int_s16(x, w));
          ao = vaddq_s32(ao, vmulltq_int_s16(x, w));
        }
      }
      {
        const int32x4_t me = vldrwq_gather_shifted_offset_s32(p->mult + c, even),
                        mo = vldrwq_gather_shifted_offset_s32(p->mult + c, odd);
        const int32x4_t se = vldrwq_gather_shifted_offset_s32(p->shift + c, even),
                        so = vldrwq_gather_shifted_offset_s32(p->shift + c, odd);
        vstrbq_scatter_offset_s32(out + c, even, requant4(ae, me, se, vout, vmin, vmax));
        vstrbq_scatter_offset_s32(out + c, odd, requant4(ao, mo, so, vout, vmin, vmax));
      }
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
      out[c] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, p->bias != NULL ? p->bias[c] : 0, p->mult[c],
                                         p->shift[c], p->output_offset, p->act_min, p->act_max);
    }
  }
}
#define PE_DW_MVE_CH 64     /* channels the 3x3 path prepares at a time */
#define PE_DW_MVE_MIN_PX 12 /* and the fewest pixels a row needs to pay the preparation back */

/* The 3x3 path's constants of 8 channels, even (0, 2, 4, 6) and odd (1, 3, 5, 7) lanes apart. */
typedef struct {
  int32x4_t base_e, base_o, mult_e, mult_o, left_e, left_o, right_e, right_o;
} dw_mve_consts;

/* TFLite's requantization of 4 lanes with prepared per-lane multipliers and shifts. */
static inline int32x4_t requant4_prep(int32x4_t acc, int32x4_t mult, int32x4_t left, int32x4_t right,
                                      int32x4_t vout, int32x4_t vmin, int32x4_t vmax) {
  int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
  x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31));
  x = vaddq_s32(vrshlq_s32(x, right), vout);
  return vminq_s32(vmaxq_s32(x, vmin), vmax);
}

/* One output pixel of a 3x3 filter for the chunk's channels [c0, c0 + cc): x0 the pixel's
   top-left tap (col bytes between columns, row bytes between rows), f the chunk's filter (tap t
   at t * ch). base = bias + input_offset * the weight sum, so the taps need no offset: a tap of 8
   channels is two widening loads, VMULLB / VMULLT and two adds. */
static inline __attribute__((always_inline)) void dw3x3_px_mve(const int8_t *x0, size_t col, size_t row,
                                                                const int8_t *f, int32_t ch, int32_t cc,
                                                                const dw_mve_consts *k, int32x4_t vout,
                                                                int32x4_t vmin, int32x4_t vmax, int8_t *o) {
  const uint32x4_t even = vidupq_n_u32(0, 2), odd = vidupq_n_u32(1, 2);
  const size_t fs = (size_t)ch;
  int32_t c;
  for (c = 0; c < cc; c += 8, ++k) {
    const int8_t *x = x0 + c, *w = f + c;
    int32x4_t ae = k->base_e, ao = k->base_o;
    int32_t fy;
    if (cc - c >= 8) {
      for (fy = 0; fy < 3; ++fy, x += row, w += 3 * fs) {
        int16x8_t xv = vldrbq_s16(x), wv = vldrbq_s16(w);
        ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
        ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
        xv = vldrbq_s16(x + col);
        wv = vldrbq_s16(w + fs);
        ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
        ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
        xv = vldrbq_s16(x + 2 * col);
        wv = vldrbq_s16(w + 2 * fs);
        ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
        ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
      }
      vstrbq_scatter_offset_s32(o + c, even, requant4_prep(ae, k->mult_e, k->left_e, k->right_e, vout, vmin, vmax));
      vstrbq_scatter_offset_s32(o + c, odd, requant4_prep(ao, k->mult_o, k->left_o, k->right_o, vout, vmin, vmax));
    } else { /* the last channels, under tail predicates */
      const uint32_t n = (uint32_t)(cc - c);
      const mve_pred16_t p16 = vctp16q(n);
      int32_t fx;
      for (fy = 0; fy < 3; ++fy, x += row, w += 3 * fs)
        for (fx = 0; fx < 3; ++fx) {
          const int16x8_t xv = vldrbq_z_s16(x + (size_t)fx * col, p16), wv = vldrbq_z_s16(w + (size_t)fx * fs, p16);
          ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
          ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
        }
      vstrbq_scatter_offset_p_s32(o + c, even, requant4_prep(ae, k->mult_e, k->left_e, k->right_e, vout, vmin, vmax),
                                  vctp32q((n + 1) / 2));
      vstrbq_scatter_offset_p_s32(o + c, odd, requant4_prep(ao, k->mult_o, k->left_o, k->right_o, vout, vmin, vmax),
                                  vctp32q(n / 2));
    }
  }
}

/* 3x3 filters, dilation 1, any stride and padding: per chunk of up to 64 channels the channels'
   constants are prepared once (the weight sums with widening loads, the multipliers and shifts
   gathered into even and odd lanes); pixels whose taps all lie inside read the input in place,
   the others a 3 x 3 stack strip padded with -input_offset (x + input_offset = 0: a padding tap
   adds nothing, as TFLite's skipped taps). The last channels of a chunk run under tail
   predicates. */
static void dw3x3_row_mve(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels, sw = p->stride_w;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  const int32x4_t vout = vdupq_n_s32(p->output_offset), vmin = vdupq_n_s32(p->act_min),
                  vmax = vdupq_n_s32(p->act_max), zero = vdupq_n_s32(0);
  const uint32x4_t even = vidupq_n_u32(0, 2), odd = vidupq_n_u32(1, 2);
  const int8x16_t pad = vdupq_n_s8((int8_t)(-p->input_offset));
  const size_t in_row = (size_t)p->in_w * ch;
  dw_mve_consts k[PE_DW_MVE_CH / 8];
  int8_t strip[9 * PE_DW_MVE_CH] __attribute__((aligned(16)));
  int32_t c0;
  for (c0 = 0; c0 < ch; c0 += PE_DW_MVE_CH) {
    const int32_t cc = ch - c0 < PE_DW_MVE_CH ? ch - c0 : PE_DW_MVE_CH;
    const int8_t *f = p->filter + c0;
    int32_t c, ox;
    for (c = 0; c < cc; c += 8) {
      dw_mve_consts *q = k + c / 8;
      const uint32_t n = (uint32_t)(cc - c);
      const mve_pred16_t p16 = vctp16q(n), pe = vctp32q((n + 1) / 2), po = vctp32q(n / 2);
      int16x8_t ws = vdupq_n_s16(0);
      int32x4_t se, so;
      int32_t t;
      for (t = 0; t < 9; ++t) ws = vaddq_s16(ws, vldrbq_z_s16(f + t * ch + c, p16));
      q->base_e = vmulq_n_s32(vmovlbq_s16(ws), p->input_offset);
      q->base_o = vmulq_n_s32(vmovltq_s16(ws), p->input_offset);
      if (p->bias != NULL) {
        q->base_e = vaddq_s32(q->base_e, vldrwq_gather_shifted_offset_z_s32(p->bias + c0 + c, even, pe));
        q->base_o = vaddq_s32(q->base_o, vldrwq_gather_shifted_offset_z_s32(p->bias + c0 + c, odd, po));
      }
      q->mult_e = vldrwq_gather_shifted_offset_z_s32(p->mult + c0 + c, even, pe);
      q->mult_o = vldrwq_gather_shifted_offset_z_s32(p->mult + c0 + c, odd, po);
      se = vldrwq_gather_shifted_offset_z_s32(p->shift + c0 + c, even, pe);
      so = vldrwq_gather_shifted_offset_z_s32(p->shift + c0 + c, odd, po);
      q->left_e = vmaxq_s32(se, zero);
      q->left_o = vmaxq_s32(so, zero);
      q->right_e = vminq_s32(se, zero);
      q->right_o = vminq_s32(so, zero);
    }
    for (ox = ox0; ox < ox1; ++ox) {
      const int32_t ix0 = ox * sw - p->pad_w;
      int8_t *o = out + (size_t)(ox - ox0) * ch + c0;
      if (y0 >= 0 && y0 + 3 <= p->in_h && ix0 >= 0 && ix0 + 3 <= p->in_w) {
        dw3x3_px_mve(p->input + (size_t)y0 * in_row + (size_t)ix0 * ch + c0, (size_t)ch, in_row, f, ch, cc, k, vout,
                     vmin, vmax, o);
      } else {
        int32_t t;
        for (t = 0; t < 9; ++t) {
          const int32_t iy = y0 + t / 3, ix = ix0 + t % 3;
          int8_t *dst = strip + t * cc;
          if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
            for (c = 0; c < cc; c += 16) vstrbq_p_s8(dst + c, pad, vctp8q((uint32_t)(cc - c)));
          } else {
            const int8_t *src = p->input + (size_t)iy * in_row + (size_t)ix * ch + c0;
            for (c = 0; c < cc; c += 16) {
              const mve_pred16_t p8 = vctp8q((uint32_t)(cc - c));
              vstrbq_p_s8(dst + c, vldrbq_z_s8(src + c, p8), p8);
            }
          }
        }
        dw3x3_px_mve(strip, (size_t)cc, 3 * (size_t)cc, f, ch, cc, k, vout, vmin, vmax, o);
      }
    }
  }
}

/* uint8 filters (w = byte - filter_zp) run the scalar twin here: the loops above read int8 bytes */
void pe_qs8_dw_row__mve(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  if (p->filter_u8)
    pe_qs8_dw_row__scalar(p, oy, ox0, ox1, out);
  else if (p->kh == 3 && p->kw == 3 && p->dilation_h == 1 && p->dilation_w == 1 && ox1 - ox0 >= PE_DW_MVE_MIN_PX)
    dw3x3_row_mve(p, oy, ox0, ox1, out);
  else
    dw_row_mve_s8(p, oy, ox0, ox1, out);
}
#else
typedef int pe_qs8_dwconv_mve_unused; /* ISO C: a translation unit holds a declaration */
#endif
