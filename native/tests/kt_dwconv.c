/* Depthwise row kernels: the scalar twin against the op's reference arithmetic written out here,
 * then every SIMD row kernel this run's features allow against the scalar twin, bit for bit. */
#include <string.h>

#include "conv.h"
#include "kt.h"
#include "qs8_dwconv.h"

#define MAX_C 129
#define MAX_H 13
#define MAX_W 40
#define MAX_TAPS (9 * 15) /* the largest filter of the sweep: more taps than the SIMD kernels take */
#define OUT_PAD 64        /* canary bytes after every output */

/* The operands sit at the end of their arrays, so that a read past one runs into the array's
   end (a sanitizer build reports it). */
static int8_t in_[MAX_H * MAX_W * MAX_C], filt_[MAX_TAPS * MAX_C];
static int32_t bias_[MAX_C], mult_[MAX_C], shift_[MAX_C];
static int8_t out_ref_[MAX_W * MAX_C + OUT_PAD], out_a_[MAX_W * MAX_C + OUT_PAD];

typedef struct {
  const char *name;
  pe_qs8_dw_fn fn;
  uint32_t features;
  const char *feature;
} kt_dw_variant;

static const kt_dw_variant simd_[] = {
#if PE_X86_KERNELS
    {"pe_qs8_dw_row__avx2", pe_qs8_dw_row__avx2, PE_FEAT_AVX2, "avx2"},
    {"pe_qs8_dw_row__avx512", pe_qs8_dw_row__avx512, PE_FEAT_AVX512, "avx512"},
    {"pe_qs8_dw_row__avx512vnni", pe_qs8_dw_row__avx512vnni, PE_FEAT_AVX512VNNI, "avx512vnni"},
#endif
#if PE_NEON_KERNELS
    {"pe_qs8_dw_row__neon", pe_qs8_dw_row__neon, PE_FEAT_NEON, "neon"},
#endif
#if PE_MVE_KERNELS
    {"pe_qs8_dw_row__mve", pe_qs8_dw_row__mve, PE_FEAT_MVE, "mve"},
#endif
#if PE_DSP_KERNELS
    {"pe_qs8_dw_row__dsp", pe_qs8_dw_row__dsp, PE_FEAT_DSP, "dsp"},
#endif
    {NULL, NULL, 0, NULL}};

static int32_t out_dim(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad) {
  const int32_t span = in + 2 * pad - (k - 1) * dil;
  return span < 1 ? 0 : (span - 1) / stride + 1;
}

/* The scalar twin against the formula (the original sweep). */
static void scalar_vs_formula(kt_state *s) {
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
      out_h = out_dim(p.in_h, p.kh, p.stride_h, p.dilation_h, p.pad_h);
      out_w = out_dim(p.in_w, p.kw, p.stride_w, p.dilation_w, p.pad_w);
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
        memset(out_ref_, KT_CANARY, sizeof out_ref_);
        pe_qs8_dw_row__scalar(&p, oy, 0, out_w, out_ref_);
        if ((uint8_t)out_ref_[out_w * ch] != KT_CANARY) ok = 0;
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
            if (out_ref_[ox * ch + c] != (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, p.bias ? bias_[c] : 0,
                                                                  mult_[c], shift_[c], p.output_offset, -128, 127))
              ok = 0;
          }
      }
      sprintf(detail, "ch %d k %dx%d in %dx%d", (int)ch, (int)p.kh, (int)p.kw, (int)p.in_h, (int)p.in_w);
      kt_check(s, ok, "pe_qs8_dw_row__scalar", detail);
    }
}

/* an int8 of the data mode: 0 random, 1 extremes only, 2 all -128, 3 all 127 */
static int8_t datum(kt_state *s, int mode) {
  switch (mode) {
    case 1: return (int8_t)(kt_rand(s) & 1 ? 127 : -128);
    case 2: return -128;
    case 3: return 127;
    default: return (int8_t)kt_range(s, -128, 127);
  }
}

/* One random layer through every SIMD kernel the run allows, row by row against the scalar twin.
   stride > 0: that stride both ways and dilation 1 (the SIMD kernels' 3x3 paths); -1: stride 1
   across, any stride down, dilation 1 (the sliding-column 3x3 kernels); 0: random. */
static void simd_case(kt_state *s, int32_t ch, int32_t kh, int32_t kw, int32_t stride) {
  static const int32_t offsets[] = {-127, 128, 0, 1, -1};
  pe_qs8_dw_args p;
  const int mode = (int)(kt_rand(s) % 4);
  int32_t i, c, oy, out_h, out_w, n_in, n_w;
  const kt_dw_variant *v;
  char detail[256];
  memset(&p, 0, sizeof p);
  p.channels = ch;
  p.kh = kh;
  p.kw = kw;
  p.stride_h = kt_range(s, 1, 3);
  p.stride_w = kt_range(s, 1, 3);
  p.dilation_h = kt_range(s, 1, 2);
  p.dilation_w = kt_range(s, 1, 2);
  if (stride > 0) {
    p.stride_h = p.stride_w = stride;
    p.dilation_h = p.dilation_w = 1;
  } else if (stride < 0) {
    p.stride_w = p.dilation_h = p.dilation_w = 1;
  }
  p.pad_h = kt_range(s, 0, kh / 2 * p.dilation_h + (kt_rand(s) % 4 == 0));
  p.pad_w = kt_range(s, 0, kw / 2 * p.dilation_w + (kt_rand(s) % 4 == 0));
  p.in_h = kt_range(s, 1, MAX_H);
  p.in_w = kt_rand(s) % 3 ? kt_range(s, 1, MAX_W) : kt_range(s, 1, 6);
  out_h = out_dim(p.in_h, kh, p.stride_h, p.dilation_h, p.pad_h);
  out_w = out_dim(p.in_w, kw, p.stride_w, p.dilation_w, p.pad_w);
  if (out_h < 1 || out_w < 1 || out_w > MAX_W) return;
  n_in = p.in_h * p.in_w * ch;
  n_w = kh * kw * ch;
  p.input = in_ + sizeof in_ - (size_t)n_in;
  p.filter = filt_ + sizeof filt_ - (size_t)n_w;
  for (i = 0; i < n_in; ++i) ((int8_t *)p.input)[i] = datum(s, mode);
  for (i = 0; i < n_w; ++i) ((int8_t *)p.filter)[i] = datum(s, mode == 0 ? 0 : 1);
  if (kt_rand(s) % 3 == 0) { /* a uint8 filter (uint8 DEPTHWISE_CONV_2D): w = byte - zero point */
    static const int32_t zps[] = {0, 255, 128, 1};
    p.filter_u8 = 1;
    p.filter_zp = kt_rand(s) % 2 ? kt_range(s, 0, 255) : zps[kt_rand(s) % 4];
  }
  {
    int32_t *b = bias_ + MAX_C - ch, *m = mult_ + MAX_C - ch, *sh = shift_ + MAX_C - ch;
    const int bias_mode = (int)(kt_rand(s) % 4); /* 0 small, 1 any int32, 2 near INT32_MAX, 3 near INT32_MIN */
    for (c = 0; c < ch; ++c) {
      switch (bias_mode) {
        case 0: b[c] = kt_range(s, -100000, 100000); break;
        case 1: b[c] = (int32_t)kt_rand(s); break;
        case 2: b[c] = INT32_MAX - kt_range(s, 0, 200000); break;
        default: b[c] = INT32_MIN + kt_range(s, 0, 200000); break;
      }
      switch (kt_rand(s) % 8) {
        case 0: m[c] = 0x40000000; break;
        case 1: m[c] = 0x7FFFFFFF; break;
        default: m[c] = (int32_t)(0x40000000u + kt_rand(s) % 0x40000000u); break;
      }
      switch (kt_rand(s) % 8) {
        case 0: sh[c] = -31; break;
        case 1: sh[c] = 30; break;
        case 2: case 3: sh[c] = kt_range(s, -31, 30); break;
        default: sh[c] = kt_range(s, -12, 2); break;
      }
    }
    p.bias = kt_rand(s) % 5 ? b : NULL;
    p.mult = m;
    p.shift = sh;
  }
  p.input_offset = kt_rand(s) % 3 ? kt_range(s, -127, 128) : offsets[kt_rand(s) % 5];
  p.output_offset = kt_range(s, -128, 127);
  p.act_min = -128;
  p.act_max = 127;
  if (kt_rand(s) % 3 == 0) {
    p.act_min = kt_range(s, -128, 0);
    p.act_max = kt_range(s, p.act_min, 127);
  }
  for (v = simd_; v->name != NULL; ++v) {
    int ok = 1;
    if ((s->features & v->features) != v->features) continue;
    for (oy = 0; oy < out_h && ok; ++oy) {
      /* the whole row, and a random part of it (possibly empty) */
      int32_t part, ox0 = 0, ox1 = out_w;
      for (part = 0; part < 2 && ok; ++part) {
        size_t n;
        if (part == 1) {
          ox0 = kt_range(s, 0, out_w);
          ox1 = kt_range(s, ox0, out_w);
        }
        n = (size_t)(ox1 - ox0) * (size_t)ch;
        memset(out_ref_, KT_CANARY, sizeof out_ref_);
        memset(out_a_, KT_CANARY, sizeof out_a_);
        pe_qs8_dw_row__scalar(&p, oy, ox0, ox1, out_ref_);
        v->fn(&p, oy, ox0, ox1, out_a_);
        ok = memcmp(out_ref_, out_a_, n + OUT_PAD) == 0;
        for (i = 0; i < OUT_PAD && ok; ++i) ok = (uint8_t)out_a_[n + (size_t)i] == KT_CANARY;
        if (!ok)
          sprintf(detail, "ch %d k %dx%d in %dx%d stride %dx%d dil %dx%d pad %dx%d row %d px [%d, %d) in_off %d "
                  "clamp [%d, %d] mode %d bias %s filter_u8 %d zp %d",
                  (int)ch, (int)kh, (int)kw, (int)p.in_h, (int)p.in_w, (int)p.stride_h, (int)p.stride_w,
                  (int)p.dilation_h, (int)p.dilation_w, (int)p.pad_h, (int)p.pad_w, (int)oy, (int)ox0, (int)ox1,
                  (int)p.input_offset, (int)p.act_min, (int)p.act_max, mode, p.bias ? "yes" : "NULL",
                  (int)p.filter_u8, (int)p.filter_zp);
      }
    }
    if (ok) sprintf(detail, "ch %d k %dx%d", (int)ch, (int)kh, (int)kw);
    kt_check(s, ok, v->name, detail);
  }
}

void kt_dwconv(kt_state *s) {
  static const int32_t ksz[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 5}, {7, 7}, {2, 3}, {9, 15}};
  const kt_dw_variant *v;
  int32_t ch;
  size_t ki;
  int rep;
  scalar_vs_formula(s);
  for (v = simd_; v->name != NULL; ++v)
    if ((s->features & v->features) != v->features) kt_skip(s, v->name, v->feature);
  for (ch = 1; ch <= MAX_C; ++ch)
    for (ki = 0; ki < sizeof ksz / sizeof ksz[0]; ++ki) {
      const int big = ksz[ki][0] * ksz[ki][1] > 49; /* the scalar fallback: sampled */
      if (big && ch % 16 != 1) continue;
      for (rep = 0; rep < (ksz[ki][0] == 3 && ksz[ki][1] == 3 ? 3 : 1); ++rep)
        simd_case(s, ch, ksz[ki][0], ksz[ki][1], 0);
    }
  { /* 3x3 with stride 1 across and dilation 1, every row stride, pad and width: the sliding-column
       kernels, their channel blocks and tails */
    static const int32_t chs[] = {32, 33, 40, 48, 63, 64, 65, 96, 97, 128, 129};
    for (ki = 0; ki < sizeof chs / sizeof chs[0]; ++ki)
      for (rep = 0; rep < 12; ++rep) simd_case(s, chs[ki], 3, 3, -1);
  }
  /* 3x3, dilation 1, strides 1 and 2 (the depthwise layers of MobileNets): channel counts around
     the kernels' 8-channel groups and 64-channel chunks, rows of up to MAX_W pixels */
  {
    static const int32_t chans3[] = {1, 3, 8, 9, 15, 16, 24, 31, 32, 56, 63, 64, 65, 72, 100, 128, 129};
    size_t i;
    for (i = 0; i < sizeof chans3 / sizeof chans3[0]; ++i)
      for (rep = 0; rep < 4; ++rep) simd_case(s, chans3[i], 3, 3, 1 + rep % 2);
  }
}
