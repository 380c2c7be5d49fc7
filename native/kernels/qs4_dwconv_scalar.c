/* DEPTHWISE_CONV_2D over int4 filter nibbles (qs4_dwconv.h), scalar. Channels go in chunks of 64
 * accumulators; for each valid tap a chunk's filter nibbles are consecutive (the filter is
 * [taps][OC]), so the inner loop reads one input and one nibble per channel. */
#include <string.h>

#include "conv.h"
#include "qs4_dwconv.h"

uint32_t pe_qs4_dw_packed_bytes(int32_t kh, int32_t kw, int32_t oc) {
  if (kh < 1 || kw < 1 || oc < 1 || (int64_t)kh * kw * oc > (1 << 30)) return 0;
  return (uint32_t)(((int64_t)kh * kw * oc + 1) / 2);
}

static inline int32_t nibble_at(const uint8_t *f, uint32_t i) {
  const uint8_t byte = f[i >> 1];
  const int32_t v = (i & 1u) ? byte >> 4 : byte & 0x0F;
  return (v ^ 8) - 8;
}

typedef struct {
  const pe_conv_params *p;
  const int8_t *in;
  const uint8_t *filter;
  const int32_t *bias, *mult, *shift;
  int8_t *out;
  int32_t in_h, in_w, in_c, out_h, out_w, out_c, mult_dm;
} dw4_task;

#define DW4_CHUNK 64

static void dw4_row(void *task, uint32_t item, uint32_t thread) {
  const dw4_task *t = (const dw4_task *)task;
  const pe_conv_params *p = t->p;
  const int32_t b = (int32_t)item / t->out_h, oy = (int32_t)item % t->out_h;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  int32_t ox, c0, fy, fx, j;
  (void)thread;
  for (ox = 0; ox < t->out_w; ++ox) {
    const int32_t x0 = ox * p->stride_w - p->pad_w;
    int8_t *o = t->out + (((size_t)b * t->out_h + oy) * t->out_w + ox) * t->out_c;
    for (c0 = 0; c0 < t->out_c; c0 += DW4_CHUNK) {
      const int32_t n = t->out_c - c0 < DW4_CHUNK ? t->out_c - c0 : DW4_CHUNK;
      uint32_t acc[DW4_CHUNK];
      memset(acc, 0, sizeof(acc));
      for (fy = 0; fy < p->kernel_h; ++fy) {
        const int32_t iy = y0 + fy * p->dilation_h;
        if (iy < 0 || iy >= t->in_h) continue;
        for (fx = 0; fx < p->kernel_w; ++fx) {
          const int32_t ix = x0 + fx * p->dilation_w;
          const int8_t *x;
          uint32_t fi;
          if (ix < 0 || ix >= t->in_w) continue;
          x = t->in + (((size_t)b * t->in_h + iy) * t->in_w + ix) * t->in_c;
          fi = (uint32_t)(fy * p->kernel_w + fx) * (uint32_t)t->out_c + (uint32_t)c0;
          for (j = 0; j < n; ++j)
            acc[j] += (uint32_t)(((int32_t)x[(c0 + j) / t->mult_dm] + p->input_offset) *
                                 nibble_at(t->filter, fi + (uint32_t)j));
        }
      }
      for (j = 0; j < n; ++j) {
        const int32_t oc = c0 + j;
        o[oc] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc[j], t->bias != NULL ? t->bias[oc] : 0, t->mult[oc],
                                          t->shift[oc], p->output_offset, p->act_min, p->act_max);
      }
    }
  }
}

pe_status pe_depthwise_conv_2d__qs4(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0), bias = pe_input(ctx, 2);
  dw4_task t;
  t.p = p;
  t.in = (const int8_t *)in.data;
  t.filter = (const uint8_t *)pe_input(ctx, 1).data;
  t.bias = bias.index >= 0 ? (const int32_t *)bias.data : NULL;
  t.mult = (const int32_t *)pe_input(ctx, 3).data;
  t.shift = (const int32_t *)pe_input(ctx, 4).data;
  t.out = (int8_t *)out.data;
  t.in_h = in.dims[1];
  t.in_w = in.dims[2];
  t.in_c = in.dims[3];
  t.out_h = out.dims[1];
  t.out_w = out.dims[2];
  t.out_c = out.dims[3];
  t.mult_dm = p->depth_multiplier;
  if (out.dims[0] * t.out_h > 0 && t.out_w > 0) pe_parallel(ctx, dw4_row, &t, (uint32_t)(out.dims[0] * t.out_h));
  return PE_OK;
}
