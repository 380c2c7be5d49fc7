/* CONV_2D and DEPTHWISE_CONV_2D, as TFLite's reference_integer_ops::ConvPerChannel and
 * DepthwiseConvPerChannel: int8 activations (int32 accumulator and bias) and int16 activations
 * with int8 filters (int64 accumulator and bias; CONV_2D also takes an int32 bias, with which
 * TFLite accumulates in int32). Tensors are NHWC; padding is implicit zeros, i.e. taps outside
 * the input are skipped. Sums are formed exactly in int64 and wrapped where TFLite's are int32. */
#include "conv.h"

enum { IN_INPUT = 0, IN_FILTER = 1, IN_BIAS = 2, IN_MULT = 3, IN_SHIFT = 4 };

/* Shapes of one conv op, read from the tensor records (validated by conv_check). */
typedef struct {
  int32_t batches, in_h, in_w, in_c;
  int32_t k_h, k_w;
  int32_t out_h, out_w, out_c;
  int32_t filter_c;  /* CONV_2D: input channels per group (filter dim 3); DEPTHWISE: 1 */
  int32_t groups;    /* CONV_2D: in_c / filter_c; DEPTHWISE: unused */
} conv_geom;

static conv_geom conv_geometry(const pe_tensor *in, const pe_tensor *filt, const pe_tensor *out,
                               int depthwise) {
  conv_geom g;
  g.batches = in->dims[0];
  g.in_h = in->dims[1];
  g.in_w = in->dims[2];
  g.in_c = in->dims[3];
  g.k_h = filt->dims[1];
  g.k_w = filt->dims[2];
  g.out_h = out->dims[1];
  g.out_w = out->dims[2];
  g.out_c = out->dims[3];
  g.filter_c = depthwise ? 1 : filt->dims[3];
  g.groups = (!depthwise && g.filter_c > 0) ? g.in_c / g.filter_c : 1;
  return g;
}

static pe_status conv_check(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, IN_INPUT), filt = pe_input(ctx, IN_FILTER);
  const pe_tensor bias = pe_input(ctx, IN_BIAS), out = pe_output(ctx, 0);
  const pe_tensor mult = pe_input(ctx, IN_MULT), shift = pe_input(ctx, IN_SHIFT);
  const int is8 = in.dtype == PE_INT8;
  conv_geom g;
  pe_status st;

  PE_CHECK(ctx->n_inputs == 5 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && filt.index >= 0 && out.index >= 0, PE_ERR_SHAPE);
  PE_CHECK(in.rank == 4 && filt.rank == 4 && out.rank == 4, PE_ERR_SHAPE);
  PE_CHECK(in.dtype == PE_INT8 || in.dtype == PE_INT16, PE_ERR_SHAPE);
  PE_CHECK(out.dtype == in.dtype && filt.dtype == PE_INT8, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&filt) >= 0 && pe_conv_elems(&out) >= 0,
           PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &filt) && pe_conv_has_data(ctx, &bias) &&
               pe_conv_has_data(ctx, &out),
           PE_ERR_SHAPE);
  g = conv_geometry(&in, &filt, &out, depthwise);
  PE_CHECK(g.batches == out.dims[0], PE_ERR_SHAPE);
  if (depthwise) {
    /* filter [1, KH, KW, OC], output channel oc reads input channel oc / depth_multiplier */
    PE_CHECK(filt.dims[0] == 1 && filt.dims[3] == g.out_c, PE_ERR_SHAPE);
    PE_CHECK(p->depth_multiplier >= 1, PE_ERR_BAD_PARAMS);
    PE_CHECK((int64_t)g.in_c * p->depth_multiplier == g.out_c, PE_ERR_SHAPE);
  } else {
    /* filter [OC, KH, KW, C / groups]; output channel oc belongs to group oc / (OC / groups) */
    PE_CHECK(filt.dims[0] == g.out_c, PE_ERR_SHAPE);
    PE_CHECK(g.filter_c >= 1 && g.in_c >= g.filter_c && g.in_c % g.filter_c == 0, PE_ERR_SHAPE);
    PE_CHECK(g.out_c % g.groups == 0, PE_ERR_SHAPE);
  }
  if (bias.index >= 0) {
    PE_CHECK(is8 ? bias.dtype == PE_INT32 : (bias.dtype == PE_INT64 || bias.dtype == PE_INT32),
             PE_ERR_SHAPE);
    PE_CHECK(pe_conv_elems(&bias) == g.out_c, PE_ERR_SHAPE);
  }
  /* int8, and 16x8 with an int32 bias, requantize with pe_mbqm; 16x8 otherwise with pe_mbqm64 */
  st = pe_conv_check_requant(&mult, &shift, g.out_c,
                             is8 || (bias.index >= 0 && bias.dtype == PE_INT32) ? PE_CONV_SHIFT_MAX_32
                                                                               : PE_CONV_SHIFT_MAX_64);
  if (st != PE_OK) return st;

  PE_CHECK(p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h >= 1 && p->dilation_w >= 1,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->pad_h >= 0 && p->pad_h <= (1 << 30) && p->pad_w >= 0 && p->pad_w <= (1 << 30),
           PE_ERR_BAD_PARAMS);
  /* the largest input coordinate the loops form, out*stride + k*dilation, must fit int32 */
  PE_CHECK((int64_t)(g.out_h > 0 ? g.out_h - 1 : 0) * p->stride_h +
                   (int64_t)(g.k_h > 0 ? g.k_h - 1 : 0) * p->dilation_h <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)(g.out_w > 0 ? g.out_w - 1 : 0) * p->stride_w +
                   (int64_t)(g.k_w > 0 ? g.k_w - 1 : 0) * p->dilation_w <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  /* zero points: int8 in [-128, 127]; int16 activations are symmetric (TFLite requires 0) */
  if (is8) {
    PE_CHECK(p->input_offset >= -127 && p->input_offset <= 128, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->output_offset >= -128 && p->output_offset <= 127, PE_ERR_BAD_PARAMS);
  } else {
    PE_CHECK(p->input_offset == 0 && p->output_offset == 0, PE_ERR_BAD_PARAMS);
  }
  PE_CHECK(pe_conv_act_ok(p->act_min, p->act_max, out.dtype), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* Sum of filter * (input + input_offset) over the window of output pixel (b, oy, ox), for
 * `n_c` consecutive input channels from `in_c0`. The filter tap (fy, fx) of channel i is at
 * filt[(fy * KW + fx) * tap_stride + i]. Exact in int64; taps outside the input are skipped. */
static int64_t window_sum(const pe_conv_params *p, const conv_geom *g, const pe_tensor *in,
                          const int8_t *filt, int32_t tap_stride, int32_t b, int32_t oy, int32_t ox,
                          int32_t in_c0, int32_t n_c) {
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  const int32_t x0 = ox * p->stride_w - p->pad_w;
  int64_t acc = 0;
  int32_t fy, fx, i;
  for (fy = 0; fy < g->k_h; ++fy) {
    const int32_t y = y0 + fy * p->dilation_h;
    if (y < 0 || y >= g->in_h) continue;
    for (fx = 0; fx < g->k_w; ++fx) {
      const int32_t x = x0 + fx * p->dilation_w;
      const int8_t *f = filt + (fy * g->k_w + fx) * tap_stride;
      int32_t pix;
      if (x < 0 || x >= g->in_w) continue;
      pix = ((b * g->in_h + y) * g->in_w + x) * g->in_c + in_c0;
      if (in->dtype == PE_INT8) {
        /* int8: TFLite's int32 accumulator, wrapping (mod 2^32, hence unsigned arithmetic) */
        const int8_t *src = (const int8_t *)in->data + pix;
        uint32_t acc32 = 0;
        for (i = 0; i < n_c; ++i) acc32 += (uint32_t)((int32_t)f[i] * ((int32_t)src[i] + p->input_offset));
        acc += (int32_t)acc32;
      } else {
        const int16_t *src = (const int16_t *)in->data + pix;
        for (i = 0; i < n_c; ++i) acc += (int32_t)f[i] * (int32_t)src[i];
      }
    }
  }
  return acc;
}

/* Add the bias, requantize with the channel's multiplier and shift, add the output zero point,
 * clamp to the activation range and store out[idx]. */
static void requantize_store(const pe_conv_params *p, const pe_tensor *out, const pe_tensor *bias,
                             const int32_t *mult, const int32_t *shift, int32_t oc, int32_t idx,
                             int64_t acc) {
  if (out->dtype == PE_INT8) {
    const int32_t b = bias->data != NULL ? ((const int32_t *)bias->data)[oc] : 0;
    ((int8_t *)out->data)[idx] =
        (int8_t)pe_conv_requant32(acc, b, mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
  } else if (bias->data != NULL && bias->dtype == PE_INT32) {
    /* 16x8 with an int32 bias: TFLite instantiates the kernel with an int32 accumulator and so
       requantizes with the 32-bit MultiplyByQuantizedMultiplier */
    const int32_t b = ((const int32_t *)bias->data)[oc];
    ((int16_t *)out->data)[idx] =
        (int16_t)pe_conv_requant32(acc, b, mult[oc], shift[oc], 0, p->act_min, p->act_max);
  } else {
    const int64_t b = bias->data != NULL ? ((const int64_t *)bias->data)[oc] : 0;
    ((int16_t *)out->data)[idx] =
        (int16_t)pe_conv_requant64(acc, b, mult[oc], shift[oc], p->act_min, p->act_max);
  }
}

static pe_status conv_eval(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, IN_INPUT), filt = pe_input(ctx, IN_FILTER);
  const pe_tensor bias = pe_input(ctx, IN_BIAS), out = pe_output(ctx, 0);
  const int32_t *mult = (const int32_t *)pe_input(ctx, IN_MULT).data;
  const int32_t *shift = (const int32_t *)pe_input(ctx, IN_SHIFT).data;
  const int8_t *w = (const int8_t *)filt.data;
  const conv_geom g = conv_geometry(&in, &filt, &out, depthwise);
  const int32_t per_group = g.out_c / g.groups;
  int32_t b, oy, ox, oc;
  for (b = 0; b < g.batches; ++b)
    for (oy = 0; oy < g.out_h; ++oy)
      for (ox = 0; ox < g.out_w; ++ox)
        for (oc = 0; oc < g.out_c; ++oc) {
          const int32_t idx = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
          int64_t acc;
          if (depthwise) /* one input channel; the filter's channel axis is the output channel */
            acc = window_sum(p, &g, &in, w + oc, g.out_c, b, oy, ox, oc / p->depth_multiplier, 1);
          else /* all input channels of oc's group; filter row oc is [KH][KW][filter_c] */
            acc = window_sum(p, &g, &in, w + oc * g.k_h * g.k_w * g.filter_c, g.filter_c, b, oy, ox,
                             (oc / per_group) * g.filter_c, g.filter_c);
          requantize_store(p, &out, &bias, mult, shift, oc, idx, acc);
        }
  return PE_OK;
}

pe_status pe_conv_2d_check(const pe_op_ctx *ctx) { return conv_check(ctx, 0); }
pe_status pe_conv_2d__scalar(const pe_op_ctx *ctx) { return conv_eval(ctx, 0); }
pe_status pe_depthwise_conv_2d_check(const pe_op_ctx *ctx) { return conv_check(ctx, 1); }
pe_status pe_depthwise_conv_2d__scalar(const pe_op_ctx *ctx) { return conv_eval(ctx, 1); }
