/* CONV_2D and DEPTHWISE_CONV_2D, as TFLite's reference_integer_ops::ConvPerChannel and
 * DepthwiseConvPerChannel: int8 activations (int32 accumulator and bias) and int16 activations
 * with int8 filters (int64 accumulator and bias; CONV_2D also takes an int32 bias, with which
 * TFLite accumulates in int32). Tensors are NHWC; padding is implicit zeros, i.e. taps outside
 * the input are skipped. Sums are formed exactly in int64 and wrapped where TFLite's are int32.
 * uint8 (TFLite's legacy asymmetric quantization, reference_ops::Conv / DepthwiseConv): uint8
 * input, filter and output, int32 bias, a per-tensor filter zero point (the filter tensor's
 * zero_point), acc = sum (w - filter zp) * (x + input_offset), one multiplier for every channel
 * (the lowering repeats it). */
#include "conv.h"
#include "dwconv_dm_drivers.h"
#include "conv16_drivers.h"
#include "gemm_drivers.h"
#include "qs4_dwconv.h"

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

/* uint8 zero points (input offset -zp in [-255, 0], output zp in [0, 255]) and clamp in [0, 255] */
static int conv_offsets_u8_ok(const pe_conv_params *p) {
  return p->input_offset >= -255 && p->input_offset <= 0 && p->output_offset >= 0 && p->output_offset <= 255 &&
         0 <= p->act_min && p->act_min <= p->act_max && p->act_max <= 255;
}

static pe_status conv_check_common(const pe_conv_params *p, const conv_geom *g, int is8, int32_t out_dtype) {
  PE_CHECK(p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h >= 1 && p->dilation_w >= 1,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->pad_h >= 0 && p->pad_h <= (1 << 30) && p->pad_w >= 0 && p->pad_w <= (1 << 30),
           PE_ERR_BAD_PARAMS);
  /* the largest input coordinate the loops form, out*stride + k*dilation, must fit int32 */
  PE_CHECK((int64_t)(g->out_h > 0 ? g->out_h - 1 : 0) * p->stride_h +
                   (int64_t)(g->k_h > 0 ? g->k_h - 1 : 0) * p->dilation_h <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)(g->out_w > 0 ? g->out_w - 1 : 0) * p->stride_w +
                   (int64_t)(g->k_w > 0 ? g->k_w - 1 : 0) * p->dilation_w <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  if (out_dtype == PE_UINT8)
    PE_CHECK(conv_offsets_u8_ok(p), PE_ERR_BAD_PARAMS);
  else
    PE_CHECK(pe_conv_offsets_ok(is8, p->input_offset, p->output_offset, p->act_min, p->act_max, out_dtype),
             PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* Shapes of an op whose weights are in a packed layout: the kernel size comes from the params
   (the filter tensor is the packed data), one group. */
static conv_geom packed_geometry(const pe_conv_params *p, const pe_tensor *in, const pe_tensor *out) {
  conv_geom g;
  g.batches = in->dims[0];
  g.in_h = in->dims[1];
  g.in_w = in->dims[2];
  g.in_c = in->dims[3];
  g.k_h = p->kernel_h;
  g.k_w = p->kernel_w;
  g.out_h = out->dims[1];
  g.out_w = out->dims[2];
  g.out_c = out->dims[3];
  g.filter_c = g.in_c;
  g.groups = 1;
  return g;
}

/* CONV_2D (or DEPTHWISE_CONV_2D of one input channel) with weights in the packed GEMM layout
   (gemm_drivers.c): int8 or uint8 (the packed tensor's zero point is then the filter's, in
   [0, 255]), one group, no bias input (it is folded into the layout's init terms), kernel size
   from the params. */
static pe_status conv_check_packed(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, IN_INPUT), filt = pe_input(ctx, IN_FILTER);
  const pe_tensor bias = pe_input(ctx, IN_BIAS), out = pe_output(ctx, 0);
  const pe_tensor mult = pe_input(ctx, IN_MULT), shift = pe_input(ctx, IN_SHIFT);
  conv_geom g;
  pe_status st;
  const int s16 = in.dtype == PE_INT16; /* 16x8: the op keeps its bias (qs16_gemm.h) */
  PE_CHECK(in.rank == 4 && out.rank == 4 && (in.dtype == PE_INT8 || in.dtype == PE_UINT8 || s16) &&
               out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(in.dtype == PE_UINT8 ? filt.zero_point >= 0 && filt.zero_point <= 255 : filt.zero_point == 0,
           PE_ERR_BAD_PARAMS);
  /* 16x8 as a GEMM: CONV_2D only, int8 weights (not int4) */
  PE_CHECK(!s16 || (!depthwise && ctx->op->layout == PE_LAYOUT_QS8_GEMM_N16K4), PE_ERR_LAYOUT);
  /* int4 weights only with int8 activations */
  PE_CHECK(ctx->op->layout != PE_LAYOUT_QS4_GEMM_N16K8 || in.dtype == PE_INT8, PE_ERR_SHAPE);
  /* a depthwise conv of one input channel is a conv with depth_multiplier outputs */
  PE_CHECK(!depthwise || (in.dims[3] == 1 && p->depth_multiplier == out.dims[3]), PE_ERR_LAYOUT);
  if (s16) {
    PE_CHECK(pe_conv_has_data(ctx, &bias), PE_ERR_SHAPE);
    if (bias.index >= 0)
      PE_CHECK((bias.dtype == PE_INT64 || bias.dtype == PE_INT32) && pe_conv_elems(&bias) == out.dims[3],
               PE_ERR_SHAPE);
  } else {
    PE_CHECK(bias.index < 0, PE_ERR_SHAPE);
  }
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&out) >= 0, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(in.dims[0] == out.dims[0] && in.dims[3] >= 1 && out.dims[3] >= 1, PE_ERR_SHAPE);
  PE_CHECK(p->kernel_h >= 1 && p->kernel_w >= 1 && p->kernel_h <= 4096 && p->kernel_w <= 4096, PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)p->kernel_h * p->kernel_w * in.dims[3] <= (1 << 24), PE_ERR_SHAPE);
  g = packed_geometry(p, &in, &out);
  /* 16x8: the int32-bias path requantizes with pe_mbqm, the others with pe_mbqm64 */
  st = pe_conv_check_requant(&mult, &shift, g.out_c,
                             s16 && !(bias.index >= 0 && bias.dtype == PE_INT32) ? PE_CONV_SHIFT_MAX_64
                                                                                : PE_CONV_SHIFT_MAX_32);
  if (st != PE_OK) return st;
  st = pe_gemm_layout_check(&filt, &mult, &shift, g.out_c, g.k_h * g.k_w * g.in_c, ctx->op->layout);
  if (st != PE_OK) return st;
  st = s16 ? pe_gemm16_scratch_check(ctx, g.k_h * g.k_w * g.in_c, (int32_t)(pe_conv_elems(&out) / out.dims[3]))
           : pe_gemm_scratch_check(ctx, g.k_h * g.k_w * g.in_c, (int32_t)(pe_conv_elems(&out) / out.dims[3]));
  if (st != PE_OK) return st;
  return conv_check_common(p, &g, !s16, out.dtype);
}

/* DEPTHWISE_CONV_2D of one int8 input channel with weights in PE_LAYOUT_QS8_DWDM_PAIRS
   (qs8_dwconv_dm.h): no bias input (it is the layout's init terms), kernel size from the params. */
static pe_status conv_check_dwdm(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, IN_INPUT), filt = pe_input(ctx, IN_FILTER);
  const pe_tensor bias = pe_input(ctx, IN_BIAS), out = pe_output(ctx, 0);
  const pe_tensor mult = pe_input(ctx, IN_MULT), shift = pe_input(ctx, IN_SHIFT);
  conv_geom g;
  pe_status st;
  PE_CHECK(in.rank == 4 && out.rank == 4 && in.dtype == PE_INT8 && out.dtype == PE_INT8, PE_ERR_SHAPE);
  PE_CHECK(in.dims[3] == 1 && p->depth_multiplier == out.dims[3], PE_ERR_LAYOUT);
  PE_CHECK(bias.index < 0, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&out) >= 0, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out) && pe_conv_has_data(ctx, &filt),
           PE_ERR_SHAPE);
  PE_CHECK(in.dims[0] == out.dims[0] && out.dims[3] >= 1, PE_ERR_SHAPE);
  PE_CHECK(p->kernel_h >= 1 && p->kernel_w >= 1 && p->kernel_h <= 4096 && p->kernel_w <= 4096, PE_ERR_BAD_PARAMS);
  g = packed_geometry(p, &in, &out); /* in_c is 1, checked above */
  st = conv_check_common(p, &g, 1, out.dtype);
  if (st != PE_OK) return st;
  st = pe_conv_check_requant(&mult, &shift, g.out_c, PE_CONV_SHIFT_MAX_32);
  if (st != PE_OK) return st;
  return pe_dwdm_check(ctx, &filt, g.out_c, g.k_h, g.k_w, g.out_w, p->stride_w, p->dilation_w);
}

/* DEPTHWISE_CONV_2D, int8, with its int4 filter in TFLite's nibble packing (PE_LAYOUT_QS4_DW,
   qs4_dwconv.h): kernel size from the params, any depth multiplier, bias and requantization as
   the generic kernel's. */
static pe_status conv_check_dw4(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, IN_INPUT), filt = pe_input(ctx, IN_FILTER);
  const pe_tensor bias = pe_input(ctx, IN_BIAS), out = pe_output(ctx, 0);
  const pe_tensor mult = pe_input(ctx, IN_MULT), shift = pe_input(ctx, IN_SHIFT);
  conv_geom g;
  pe_status st;
  PE_CHECK(in.rank == 4 && out.rank == 4 && in.dtype == PE_INT8 && out.dtype == PE_INT8, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&out) >= 0, PE_ERR_SHAPE);
  PE_CHECK(in.dims[0] == out.dims[0] && in.dims[3] >= 1 && out.dims[3] >= 1, PE_ERR_SHAPE);
  PE_CHECK(p->kernel_h >= 1 && p->kernel_w >= 1 && p->kernel_h <= 4096 && p->kernel_w <= 4096, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->depth_multiplier >= 1 && (int64_t)in.dims[3] * p->depth_multiplier == out.dims[3], PE_ERR_SHAPE);
  PE_CHECK(filt.dtype == PE_INT8 && filt.rank == 1 && filt.zero_point == 0, PE_ERR_SHAPE);
  PE_CHECK(filt.bytes != 0 && filt.bytes == pe_qs4_dw_packed_bytes(p->kernel_h, p->kernel_w, out.dims[3]),
           PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &filt) && pe_conv_has_data(ctx, &bias) &&
               pe_conv_has_data(ctx, &out),
           PE_ERR_SHAPE);
  if (bias.index >= 0) PE_CHECK(bias.dtype == PE_INT32 && pe_conv_elems(&bias) == out.dims[3], PE_ERR_SHAPE);
  g = packed_geometry(p, &in, &out);
  st = pe_conv_check_requant(&mult, &shift, g.out_c, PE_CONV_SHIFT_MAX_32);
  if (st != PE_OK) return st;
  return conv_check_common(p, &g, 1, out.dtype);
}

static pe_status conv_check(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, IN_INPUT), filt = pe_input(ctx, IN_FILTER);
  const pe_tensor bias = pe_input(ctx, IN_BIAS), out = pe_output(ctx, 0);
  const pe_tensor mult = pe_input(ctx, IN_MULT), shift = pe_input(ctx, IN_SHIFT);
  const int is8 = in.dtype == PE_INT8 || in.dtype == PE_UINT8; /* int32 accumulator and bias */
  conv_geom g;
  pe_status st;

  PE_CHECK(ctx->n_inputs == 5 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && filt.index >= 0 && out.index >= 0, PE_ERR_SHAPE);
  if (ctx->op->layout == PE_LAYOUT_QS8_GEMM_N16K4 || ctx->op->layout == PE_LAYOUT_QS4_GEMM_N16K8)
    return conv_check_packed(ctx, depthwise);
  if (ctx->op->layout == PE_LAYOUT_QS4_DW) {
    PE_CHECK(depthwise, PE_ERR_LAYOUT);
    return conv_check_dw4(ctx);
  }
  if (ctx->op->layout == PE_LAYOUT_QS8_DWDM_PAIRS) {
    PE_CHECK(depthwise, PE_ERR_LAYOUT);
    return conv_check_dwdm(ctx);
  }
  PE_CHECK(in.rank == 4 && filt.rank == 4 && out.rank == 4, PE_ERR_SHAPE);
  PE_CHECK(p->kernel_h == filt.dims[1] && p->kernel_w == filt.dims[2], PE_ERR_BAD_PARAMS);
  PE_CHECK(in.dtype == PE_INT8 || in.dtype == PE_INT16 || in.dtype == PE_UINT8, PE_ERR_SHAPE);
  PE_CHECK(out.dtype == in.dtype && filt.dtype == (in.dtype == PE_UINT8 ? PE_UINT8 : PE_INT8), PE_ERR_SHAPE);
  if (in.dtype == PE_UINT8) PE_CHECK(filt.zero_point >= 0 && filt.zero_point <= 255, PE_ERR_BAD_PARAMS);
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

  return conv_check_common(p, &g, is8, out.dtype);
}

/* The taps of one output pixel's window that fall inside the input; the others read the implicit
 * zero padding and are skipped. Valid taps are filter rows fy0 .. fy0 + rows - 1 and columns
 * fx0 .. fx0 + cols - 1; in_first is the input offset (in elements, channel 0) of tap (fy0, fx0),
 * in_row and in_col the offsets between consecutive valid rows and columns. The strides are formed
 * only when there are two valid rows (columns), so they stay within the input and cannot overflow;
 * an empty window is all zeros. */
typedef struct {
  int32_t fy0, fx0, rows, cols;
  int32_t in_first, in_row, in_col;
} conv_window;

/* First and one-past-last tap k of one window axis with start + k * dilation in [0, size). */
static void valid_taps(int32_t start, int32_t dilation, int32_t size, int32_t taps, int32_t *lo,
                       int32_t *hi) {
  int32_t a = 0, b = taps;
  while (a < b && start + a * dilation < 0) ++a;
  while (b > a && start + (b - 1) * dilation >= size) --b;
  *lo = a;
  *hi = b;
}

static conv_window window_at(const pe_conv_params *p, const conv_geom *g, int32_t b, int32_t oy,
                             int32_t ox) {
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  int32_t fy1, fx1;
  conv_window w;
  valid_taps(y0, p->dilation_h, g->in_h, g->k_h, &w.fy0, &fy1);
  valid_taps(x0, p->dilation_w, g->in_w, g->k_w, &w.fx0, &fx1);
  w.rows = fy1 - w.fy0;
  w.cols = fx1 - w.fx0;
  w.in_first = w.in_row = w.in_col = 0;
  if (w.rows == 0 || w.cols == 0) {
    w.fy0 = w.fx0 = w.rows = w.cols = 0;
    return w;
  }
  w.in_first = ((b * g->in_h + y0 + w.fy0 * p->dilation_h) * g->in_w + x0 + w.fx0 * p->dilation_w) * g->in_c;
  if (w.rows > 1) w.in_row = p->dilation_h * g->in_w * g->in_c;
  if (w.cols > 1) w.in_col = p->dilation_w * g->in_c;
  return w;
}

/* The data of one conv op. The kernels work on local copies of it and of the params and geometry:
 * a store through an int8 output pointer may alias anything, so fields read through the caller's
 * pointers would be reloaded after every output. */
typedef struct {
  const void *input;
  const int8_t *filter;
  const void *bias; /* NULL: no bias */
  int32_t bias_dtype;
  const int32_t *mult, *shift;
  void *output;
} conv_data;

/* int8 output oc of a wrapped int32 sum: bias, requantization, zero point, activation clamp. */
static inline int8_t requant_s8(const pe_conv_params *p, const conv_data *d, int32_t oc, uint32_t acc) {
  const int32_t b = d->bias != NULL ? ((const int32_t *)d->bias)[oc] : 0;
  return (int8_t)pe_conv_requant32(acc, b, d->mult[oc], d->shift[oc], p->output_offset, p->act_min,
                                   p->act_max);
}

/* int16 output oc of an exact sum. TFLite instantiates the 16x8 kernels with an int32 accumulator
 * when the bias is int32 (so the sum wraps and requantizes with the 32-bit
 * MultiplyByQuantizedMultiplier), else with an int64 one. */
static int16_t requant_s16(const pe_conv_params *p, const conv_data *d, int32_t oc, int64_t acc) {
  if (d->bias != NULL && d->bias_dtype == PE_INT32)
    return (int16_t)pe_conv_requant32(acc, ((const int32_t *)d->bias)[oc], d->mult[oc], d->shift[oc], 0,
                                      p->act_min, p->act_max);
  return (int16_t)pe_conv_requant64(acc, d->bias != NULL ? ((const int64_t *)d->bias)[oc] : 0,
                                    d->mult[oc], d->shift[oc], p->act_min, p->act_max);
}

/* ---------------------------------------------------------------- CONV_2D */

/* Output channel oc of CONV_2D sums filter[oc][fy][fx][i] * (input[y][x][ic0 + i] + input_offset)
 * over the valid taps and the filter_c input channels of its group (from ic0). Each valid filter
 * row is `runs` runs of `len` elements that are contiguous in the input and in the filter: one run
 * per tap (filter_c channels), or one for the whole row when its taps are adjacent in the input
 * (no groups, no dilation). */
typedef struct {
  int32_t rows, runs, len;
  int32_t in_row, in_run; /* input strides between rows and between runs */
  int32_t f_row, f_run;   /* the same in the filter */
} conv_runs;

static conv_runs runs_of(const pe_conv_params *p, const conv_geom *g, const conv_window *w) {
  conv_runs rn;
  const int whole_rows = p->dilation_w == 1 && g->filter_c == g->in_c;
  rn.rows = w->rows;
  rn.runs = whole_rows ? (w->cols > 0) : w->cols;
  rn.len = whole_rows ? w->cols * g->filter_c : g->filter_c;
  rn.in_row = w->in_row;
  rn.in_run = whole_rows ? 0 : w->in_col;
  rn.f_row = pe_conv_mul_wrap(g->k_w, g->filter_c);
  rn.f_run = g->filter_c;
  return rn;
}

/* acc[0..n-1] += window sums of n (1 or 4) consecutive output channels' filters (f, f + f_size,
 * ...) with the input window x, mod 2^32. */
static inline void conv_window_s8(const conv_runs *rn, const int8_t *x, const int8_t *f, int32_t f_size,
                                  int n, int32_t input_offset, uint32_t acc[4]) {
  int32_t r, k;
  for (r = 0; r < rn->rows; ++r, x += rn->in_row, f += rn->f_row) {
    const int8_t *xr = x, *fr = f;
    for (k = 0; k < rn->runs; ++k, xr += rn->in_run, fr += rn->f_run) {
      if (n == 4)
        pe_dot4_s8(xr, fr, f_size, rn->len, input_offset, acc);
      else
        acc[0] += pe_dot_s8(xr, fr, rn->len, input_offset);
    }
  }
}

/* int8: output channels four at a time, so that each input is loaded once for four filters. */
static void conv_s8(const pe_conv_params *params, const conv_geom *geom, const conv_data *data) {
  const pe_conv_params pl = *params, *p = &pl; /* local copies (see conv_data) */
  const conv_geom gl = *geom, *g = &gl;
  const conv_data dl = *data, *d = &dl;
  const int8_t *in = (const int8_t *)d->input;
  int8_t *out = (int8_t *)d->output;
  const int32_t per_group = g->out_c / g->groups;
  /* filter elements per output channel */
  const int32_t f_size = pe_conv_mul_wrap(pe_conv_mul_wrap(g->k_h, g->k_w), g->filter_c);
  int32_t b, oy, ox, grp, oc, j;
  for (b = 0; b < g->batches; ++b)
    for (oy = 0; oy < g->out_h; ++oy)
      for (ox = 0; ox < g->out_w; ++ox) {
        const conv_window w = window_at(p, g, b, oy, ox);
        const conv_runs rn = runs_of(p, g, &w);
        const int32_t f_first = (w.fy0 * g->k_w + w.fx0) * g->filter_c;
        for (grp = 0; grp < g->groups; ++grp) {
          const int8_t *x = in + w.in_first + grp * g->filter_c;
          const int32_t oc_end = (grp + 1) * per_group;
          for (oc = grp * per_group; oc < oc_end;) {
            const int n = oc_end - oc >= 4 ? 4 : 1;
            uint32_t acc[4] = {0, 0, 0, 0};
            conv_window_s8(&rn, x, d->filter + oc * f_size + f_first, f_size, n, p->input_offset, acc);
            for (j = 0; j < n; ++j, ++oc) *out++ = requant_s8(p, d, oc, acc[j]);
          }
        }
      }
}

/* int16 activations: one output channel at a time, sums exact in int64 (requant_s16 wraps them
 * where TFLite's accumulator is int32). */
static void conv_s16(const pe_conv_params *params, const conv_geom *geom, const conv_data *data) {
  const pe_conv_params pl = *params, *p = &pl; /* local copies (see conv_data) */
  const conv_geom gl = *geom, *g = &gl;
  const conv_data dl = *data, *d = &dl;
  const int16_t *in = (const int16_t *)d->input;
  int16_t *out = (int16_t *)d->output;
  const int32_t per_group = g->out_c / g->groups;
  const int32_t f_size = pe_conv_mul_wrap(pe_conv_mul_wrap(g->k_h, g->k_w), g->filter_c);
  int32_t b, oy, ox, oc, r, k, i;
  for (b = 0; b < g->batches; ++b)
    for (oy = 0; oy < g->out_h; ++oy)
      for (ox = 0; ox < g->out_w; ++ox) {
        const conv_window w = window_at(p, g, b, oy, ox);
        const conv_runs rn = runs_of(p, g, &w);
        for (oc = 0; oc < g->out_c; ++oc) {
          const int16_t *x = in + w.in_first + (oc / per_group) * g->filter_c;
          const int8_t *f = d->filter + oc * f_size + (w.fy0 * g->k_w + w.fx0) * g->filter_c;
          int64_t acc = 0;
          for (r = 0; r < rn.rows; ++r, x += rn.in_row, f += rn.f_row) {
            const int16_t *xr = x;
            const int8_t *fr = f;
            for (k = 0; k < rn.runs; ++k, xr += rn.in_run, fr += rn.f_run)
              for (i = 0; i < rn.len; ++i) acc += (int32_t)fr[i] * (int32_t)xr[i];
          }
          *out++ = requant_s16(p, d, oc, acc);
        }
      }
}

/* ---------------------------------------------------------------- DEPTHWISE_CONV_2D */

/* Output channel oc = ic * depth_multiplier + m reads input channel ic; the filter holds tap
 * (fy, fx) of all output channels contiguously, at filter[(fy * KW + fx) * OC]. Sums of one
 * output channel at x (input channel) and f (filter, at tap (fy0, fx0)): */
static inline uint32_t dw_window_s8(const conv_window *w, const int8_t *x, const int8_t *f, int32_t f_row,
                                    int32_t f_col, int32_t input_offset) {
  uint32_t acc = 0;
  int32_t r, k;
  for (r = 0; r < w->rows; ++r, x += w->in_row, f += f_row) {
    const int8_t *xc = x, *fc = f;
    for (k = 0; k < w->cols; ++k, xc += w->in_col, fc += f_col)
      acc += (uint32_t)((int32_t)fc[0] * ((int32_t)xc[0] + input_offset));
  }
  return acc;
}

/* ... and of four consecutive output channels: those of four input channels x[0..3] (x_step 1,
 * depth_multiplier 1), or four multipliers of the one input channel x[0] (x_step 0). */
static inline void dw_window4_s8(const conv_window *w, const int8_t *x, int32_t x_step, const int8_t *f,
                                 int32_t f_row, int32_t f_col, int32_t input_offset, uint32_t acc[4]) {
  uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int32_t r, k;
  for (r = 0; r < w->rows; ++r, x += w->in_row, f += f_row) {
    const int8_t *xc = x, *fc = f;
    for (k = 0; k < w->cols; ++k, xc += w->in_col, fc += f_col) {
      a0 += (uint32_t)((int32_t)fc[0] * ((int32_t)xc[0] + input_offset));
      a1 += (uint32_t)((int32_t)fc[1] * ((int32_t)xc[x_step] + input_offset));
      a2 += (uint32_t)((int32_t)fc[2] * ((int32_t)xc[2 * x_step] + input_offset));
      a3 += (uint32_t)((int32_t)fc[3] * ((int32_t)xc[3 * x_step] + input_offset));
    }
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

static void dw_s8(const pe_conv_params *params, const conv_geom *geom, const conv_data *data) {
  const pe_conv_params pl = *params, *p = &pl; /* local copies (see conv_data) */
  const conv_geom gl = *geom, *g = &gl;
  const conv_data dl = *data, *d = &dl;
  const int8_t *in = (const int8_t *)d->input;
  int8_t *out = (int8_t *)d->output;
  const int32_t dm = p->depth_multiplier, off = p->input_offset;
  const int32_t f_col = g->out_c, f_row = pe_conv_mul_wrap(g->k_w, g->out_c);
  int32_t b, oy, ox, ic, m, oc, j;
  uint32_t acc[4];
  for (b = 0; b < g->batches; ++b)
    for (oy = 0; oy < g->out_h; ++oy)
      for (ox = 0; ox < g->out_w; ++ox, out += g->out_c) {
        const conv_window w = window_at(p, g, b, oy, ox);
        const int8_t *x = in + w.in_first;
        const int8_t *f = d->filter + w.fy0 * f_row + w.fx0 * f_col;
        if (dm == 1) {
          for (oc = 0; oc + 4 <= g->out_c; oc += 4) {
            dw_window4_s8(&w, x + oc, 1, f + oc, f_row, f_col, off, acc);
            for (j = 0; j < 4; ++j) out[oc + j] = requant_s8(p, d, oc + j, acc[j]);
          }
          for (; oc < g->out_c; ++oc)
            out[oc] = requant_s8(p, d, oc, dw_window_s8(&w, x + oc, f + oc, f_row, f_col, off));
        } else {
          for (ic = 0, oc = 0; ic < g->in_c; ++ic) {
            for (m = 0; m + 4 <= dm; m += 4, oc += 4) {
              dw_window4_s8(&w, x + ic, 0, f + oc, f_row, f_col, off, acc);
              for (j = 0; j < 4; ++j) out[oc + j] = requant_s8(p, d, oc + j, acc[j]);
            }
            for (; m < dm; ++m, ++oc)
              out[oc] = requant_s8(p, d, oc, dw_window_s8(&w, x + ic, f + oc, f_row, f_col, off));
          }
        }
      }
}

static void dw_s16(const pe_conv_params *params, const conv_geom *geom, const conv_data *data) {
  const pe_conv_params pl = *params, *p = &pl; /* local copies (see conv_data) */
  const conv_geom gl = *geom, *g = &gl;
  const conv_data dl = *data, *d = &dl;
  const int16_t *in = (const int16_t *)d->input;
  int16_t *out = (int16_t *)d->output;
  const int32_t dm = p->depth_multiplier;
  const int32_t f_col = g->out_c, f_row = pe_conv_mul_wrap(g->k_w, g->out_c);
  int32_t b, oy, ox, oc, r, k;
  for (b = 0; b < g->batches; ++b)
    for (oy = 0; oy < g->out_h; ++oy)
      for (ox = 0; ox < g->out_w; ++ox) {
        const conv_window w = window_at(p, g, b, oy, ox);
        for (oc = 0; oc < g->out_c; ++oc) {
          const int16_t *x = in + w.in_first + oc / dm;
          const int8_t *f = d->filter + w.fy0 * f_row + w.fx0 * f_col + oc;
          int64_t acc = 0;
          for (r = 0; r < w.rows; ++r, x += w.in_row, f += f_row) {
            const int16_t *xc = x;
            const int8_t *fc = f;
            for (k = 0; k < w.cols; ++k, xc += w.in_col, fc += f_col) acc += (int32_t)fc[0] * (int32_t)xc[0];
          }
          *out++ = requant_s16(p, d, oc, acc);
        }
      }
}

/* ---------------------------------------------------------------- uint8 */

/* uint8 CONV_2D, as reference_ops::Conv: one output channel at a time over the valid taps. */
static void conv_u8(const pe_conv_params *params, const conv_geom *geom, const conv_data *data,
                    int32_t filter_offset) {
  const pe_conv_params pl = *params, *p = &pl; /* local copies (see conv_data) */
  const conv_geom gl = *geom, *g = &gl;
  const conv_data dl = *data, *d = &dl;
  const uint8_t *in = (const uint8_t *)d->input, *filter = (const uint8_t *)d->filter;
  uint8_t *out = (uint8_t *)d->output;
  const int32_t per_group = g->out_c / g->groups;
  const int32_t f_size = pe_conv_mul_wrap(pe_conv_mul_wrap(g->k_h, g->k_w), g->filter_c);
  const int32_t f_row = pe_conv_mul_wrap(g->k_w, g->filter_c);
  int32_t b, oy, ox, oc, r, k, i;
  for (b = 0; b < g->batches; ++b)
    for (oy = 0; oy < g->out_h; ++oy)
      for (ox = 0; ox < g->out_w; ++ox) {
        const conv_window w = window_at(p, g, b, oy, ox);
        for (oc = 0; oc < g->out_c; ++oc) {
          const uint8_t *x = in + w.in_first + (oc / per_group) * g->filter_c;
          const uint8_t *f = filter + oc * f_size + (w.fy0 * g->k_w + w.fx0) * g->filter_c;
          uint32_t acc = 0;
          for (r = 0; r < w.rows; ++r, x += w.in_row, f += f_row) {
            const uint8_t *xc = x, *fc = f;
            for (k = 0; k < w.cols; ++k, xc += w.in_col, fc += g->filter_c)
              for (i = 0; i < g->filter_c; ++i)
                acc += (uint32_t)(((int32_t)fc[i] + filter_offset) * ((int32_t)xc[i] + p->input_offset));
          }
          *out++ = (uint8_t)pe_conv_requant32(acc, d->bias != NULL ? ((const int32_t *)d->bias)[oc] : 0,
                                              d->mult[oc], d->shift[oc], p->output_offset, p->act_min,
                                              p->act_max);
        }
      }
}

/* uint8 DEPTHWISE_CONV_2D, as reference_ops::DepthwiseConv (rounding away from zero). */
static void dw_u8(const pe_conv_params *params, const conv_geom *geom, const conv_data *data,
                  int32_t filter_offset) {
  const pe_conv_params pl = *params, *p = &pl; /* local copies (see conv_data) */
  const conv_geom gl = *geom, *g = &gl;
  const conv_data dl = *data, *d = &dl;
  const uint8_t *in = (const uint8_t *)d->input, *filter = (const uint8_t *)d->filter;
  uint8_t *out = (uint8_t *)d->output;
  const int32_t dm = p->depth_multiplier;
  const int32_t f_col = g->out_c, f_row = pe_conv_mul_wrap(g->k_w, g->out_c);
  int32_t b, oy, ox, oc, r, k;
  for (b = 0; b < g->batches; ++b)
    for (oy = 0; oy < g->out_h; ++oy)
      for (ox = 0; ox < g->out_w; ++ox) {
        const conv_window w = window_at(p, g, b, oy, ox);
        for (oc = 0; oc < g->out_c; ++oc) {
          const uint8_t *x = in + w.in_first + oc / dm;
          const uint8_t *f = filter + w.fy0 * f_row + w.fx0 * f_col + oc;
          uint32_t acc = 0;
          for (r = 0; r < w.rows; ++r, x += w.in_row, f += f_row) {
            const uint8_t *xc = x, *fc = f;
            for (k = 0; k < w.cols; ++k, xc += w.in_col, fc += f_col)
              acc += (uint32_t)(((int32_t)fc[0] + filter_offset) * ((int32_t)xc[0] + p->input_offset));
          }
          *out++ = (uint8_t)pe_conv_requant32(acc, d->bias != NULL ? ((const int32_t *)d->bias)[oc] : 0,
                                              d->mult[oc], d->shift[oc], p->output_offset, p->act_min,
                                              p->act_max);
        }
      }
}

/* inlined into each op's eval with `depthwise` a constant, so that a firmware linking only one
   of the two keeps only its kernels */
static inline __attribute__((always_inline)) pe_status conv_eval(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, IN_INPUT), filt = pe_input(ctx, IN_FILTER);
  const pe_tensor bias = pe_input(ctx, IN_BIAS), out = pe_output(ctx, 0);
  const conv_geom g = conv_geometry(&in, &filt, &out, depthwise);
  conv_data d;
  d.input = in.data;
  d.filter = (const int8_t *)filt.data;
  d.bias = bias.data;
  d.bias_dtype = bias.dtype;
  d.mult = (const int32_t *)pe_input(ctx, IN_MULT).data;
  d.shift = (const int32_t *)pe_input(ctx, IN_SHIFT).data;
  d.output = out.data;
  if (in.dtype == PE_UINT8) {
    if (depthwise)
      dw_u8(p, &g, &d, -filt.zero_point);
    else
      conv_u8(p, &g, &d, -filt.zero_point);
  } else if (in.dtype == PE_INT8) {
    if (depthwise)
      dw_s8(p, &g, &d);
    else
      conv_s8(p, &g, &d);
  } else {
    if (depthwise)
      dw_s16(p, &g, &d);
    else
      conv_s16(p, &g, &d);
  }
  return PE_OK;
}

pe_status pe_conv_2d_check(const pe_op_ctx *ctx) { return conv_check(ctx, 0); }
pe_status pe_conv_2d__scalar(const pe_op_ctx *ctx) { return conv_eval(ctx, 0); }
pe_status pe_depthwise_conv_2d_check(const pe_op_ctx *ctx) { return conv_check(ctx, 1); }
pe_status pe_depthwise_conv_2d__scalar(const pe_op_ctx *ctx) { return conv_eval(ctx, 1); }
