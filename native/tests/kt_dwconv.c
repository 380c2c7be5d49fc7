/* Depthwise row kernels: the scalar twin against the op's reference arithmetic written out here. */
#include <string.h>

#include "conv.h"
#include "kt.h"
#include "qs8_dwconv.h"

static int8_t in_[13 * 13 * 129], filt_[7 * 7 * 129], out_[13 * 129 + 1];
static int32_t bias_[129], mult_[129], shift_[129];

void kt_dwconv(kt_state *s) {
  static const int32_t chans[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129};
  static const int32_t ksz[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 5}, {7, 7}};
  size_t ci, ki;
  char detail[160];
  for (ci = 0; ci < sizeof chans / sizeof chans[0]; ++ci)
    for (ki = 0; ki < sizeof ksz / sizeof ksz[0]; ++ki) {
      pe_qs8_dw_args p;
      const int32_t ch = chans[ci];
      int32_t i, oy, ox, c, fy, fx, out_w, out_h, ok = 1;
      memset(&p, 0, sizeof p);
      p.in_h = kt_range(s, 1, 13);
      p.in_w = kt_range(s, 1, 13);
      p.channels = ch;
      p.kh = ksz[ki][0];
      p.kw = ksz[ki][1];
      p.stride_h = kt_range(s, 1, 3);
      p.stride_w = kt_range(s, 1, 3);
      p.dilation_h = kt_range(s, 1, 2);
      p.dilation_w = kt_range(s, 1, 2);
      p.pad_h = kt_range(s, 0, p.kh / 2 * p.dilation_h);
      p.pad_w = kt_range(s, 0, p.kw / 2 * p.dilation_w);
      out_h = (p.in_h + 2 * p.pad_h - (p.kh - 1) * p.dilation_h - 1) / p.stride_h + 1;
      out_w = (p.in_w + 2 * p.pad_w - (p.kw - 1) * p.dilation_w - 1) / p.stride_w + 1;
      if (out_h < 1 || out_w < 1) continue;
      for (i = 0; i < p.in_h * p.in_w * ch; ++i) in_[i] = (int8_t)kt_range(s, -128, 127);
      for (i = 0; i < p.kh * p.kw * ch; ++i) filt_[i] = (int8_t)kt_range(s, -128, 127);
      for (c = 0; c < ch; ++c) {
        bias_[c] = kt_range(s, -100000, 100000);
        mult_[c] = (int32_t)(0x40000000u + kt_rand(s) % 0x40000000u);
        shift_[c] = kt_range(s, -31, 30);
      }
      p.input = in_;
      p.filter = filt_;
      p.bias = kt_rand(s) % 4 ? bias_ : NULL;
      p.mult = mult_;
      p.shift = shift_;
      p.input_offset = kt_range(s, -127, 128);
      p.output_offset = kt_range(s, -128, 127);
      p.act_min = -128;
      p.act_max = 127;
      for (oy = 0; oy < out_h && ok; ++oy) {
        memset(out_, KT_CANARY, sizeof out_);
        pe_qs8_dw_row__scalar(&p, oy, 0, out_w, out_);
        if ((uint8_t)out_[out_w * ch] != KT_CANARY) ok = 0;
        for (ox = 0; ox < out_w && ok; ++ox)
          for (c = 0; c < ch && ok; ++c) {
            uint32_t acc = 0;
            for (fy = 0; fy < p.kh; ++fy)
              for (fx = 0; fx < p.kw; ++fx) {
                const int32_t iy = oy * p.stride_h - p.pad_h + fy * p.dilation_h;
                const int32_t ix = ox * p.stride_w - p.pad_w + fx * p.dilation_w;
                if (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w)
                  acc += (uint32_t)(filt_[(fy * p.kw + fx) * ch + c] * (in_[(iy * p.in_w + ix) * ch + c] + p.input_offset));
              }
            if (out_[ox * ch + c] != (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, p.bias ? bias_[c] : 0, mult_[c],
                                                              shift_[c], p.output_offset, -128, 127))
              ok = 0;
          }
      }
      sprintf(detail, "ch %d k %dx%d in %dx%d", (int)ch, (int)p.kh, (int)p.kw, (int)p.in_h, (int)p.in_w);
      kt_check(s, ok, "pe_qs8_dw_row__scalar", detail);
    }
}
