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
 * the last channels (fewer than 8) take the scalar arithmetic. Built on M-profile cores with
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
/* uint8 filters (w = byte - filter_zp) run the scalar twin here: the loops above read int8 bytes */
void pe_qs8_dw_row__mve(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  if (p->filter_u8)
    pe_qs8_dw_row__scalar(p, oy, ox0, ox1, out);
  else
    dw_row_mve_s8(p, oy, ox0, ox1, out);
}
#else
typedef int pe_qs8_dwconv_mve_unused; /* ISO C: a translation unit holds a declaration */
#endif
