/* Scalar twin of the depthwise row microkernels (qs8_dwconv.h). */
#include "conv.h"
#include "qs8_dwconv.h"

void pe_qs8_dw_row__scalar(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  int32_t ox, c, fy, fx;
  for (ox = ox0; ox < ox1; ++ox, out += ch) {
    const int32_t x0 = ox * p->stride_w - p->pad_w;
    for (c = 0; c < ch; ++c) {
      uint32_t acc = 0;
      for (fy = 0; fy < p->kh; ++fy) {
        const int32_t iy = y0 + fy * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) continue;
        for (fx = 0; fx < p->kw; ++fx) {
          const int32_t ix = x0 + fx * p->dilation_w;
          if (ix < 0 || ix >= p->in_w) continue;
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
