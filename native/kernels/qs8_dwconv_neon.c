/* int8 depthwise row microkernel, NEON (AArch64, ARMv7), depth multiplier 1 (qs8_dwconv.h):
 * 16 channels at a time. x + input_offset lies in [-255, 255] and |w| <= 128, so each product
 * fits int16 operands of SMLAL into exact int32 sums (wrapping, as TFLite's accumulator); taps
 * outside the input are skipped as in the scalar twin. Channels past the last 16 take the
 * scalar twin's arithmetic. */
#include "conv.h"
#include "pe_requant_neon.h"
#include "qs8_dwconv.h"

void pe_qs8_dw_row__neon(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
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
