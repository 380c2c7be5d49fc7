/* Depthwise row microkernel for the Cortex-M DSP extension (qs8_dwconv.h), bit-identical to
 * pe_qs8_dw_row__scalar.
 *
 * Four channels at a time: one 32-bit load holds a tap's 4 input bytes, another its 4 filter
 * bytes; SXTB16 (and SXTB16 with ROR #8) splits each into int16 pairs (channels 0, 2 and 1, 3),
 * SADD16 adds the input offset to both halves (x + input_offset is in [-255, 255]), and
 * SMLABB / SMLATT multiply-accumulate the bottom and top halves into one int32 per channel
 * (exact products, wrapping sums, as the scalar kernel's uint32 accumulator). Taps outside the
 * input are skipped: the valid tap range is found once per pixel. The last channels (fewer than
 * 4) take the scalar arithmetic. Built on M-profile cores with DSP only (PE_DSP_KERNELS). */
#include "pe_kernel.h"

#if PE_DSP_KERNELS
#include <arm_acle.h>

#include "conv.h"
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

void pe_qs8_dw_row__dsp(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  const size_t row_step = (size_t)p->dilation_h * p->in_w * ch, col_step = (size_t)p->dilation_w * ch;
  const size_t frow_step = (size_t)p->kw * ch;
  const int32_t off2 = (int32_t)(((uint32_t)(uint16_t)p->input_offset << 16) | (uint16_t)p->input_offset);
  int32_t fy_lo, fy_hi, ox, c;
  tap_range(y0, p->kh, p->dilation_h, p->in_h, &fy_lo, &fy_hi);
  for (ox = ox0; ox < ox1; ++ox, out += ch) {
    const int32_t x0 = ox * p->stride_w - p->pad_w;
    int32_t fx_lo, fx_hi;
    const int8_t *in0, *f0;
    tap_range(x0, p->kw, p->dilation_w, p->in_w, &fx_lo, &fx_hi);
    in0 = p->input + ((size_t)(y0 + fy_lo * p->dilation_h) * p->in_w + (x0 + fx_lo * p->dilation_w)) * ch;
    f0 = p->filter + ((size_t)fy_lo * p->kw + fx_lo) * ch;
    for (c = 0; c + 4 <= ch; c += 4) {
      int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, fy, fx;
      const int8_t *ir = in0 + c, *fr = f0 + c;
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
      {
        const int32_t *b = p->bias;
        out[c] = (int8_t)pe_conv_requant32((int64_t)a0, b ? b[c] : 0, p->mult[c], p->shift[c], p->output_offset,
                                           p->act_min, p->act_max);
        out[c + 1] = (int8_t)pe_conv_requant32((int64_t)a1, b ? b[c + 1] : 0, p->mult[c + 1], p->shift[c + 1],
                                               p->output_offset, p->act_min, p->act_max);
        out[c + 2] = (int8_t)pe_conv_requant32((int64_t)a2, b ? b[c + 2] : 0, p->mult[c + 2], p->shift[c + 2],
                                               p->output_offset, p->act_min, p->act_max);
        out[c + 3] = (int8_t)pe_conv_requant32((int64_t)a3, b ? b[c + 3] : 0, p->mult[c + 3], p->shift[c + 3],
                                               p->output_offset, p->act_min, p->act_max);
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
#else
typedef int pe_qs8_dwconv_dsp_unused; /* ISO C: a translation unit holds a declaration */
#endif
