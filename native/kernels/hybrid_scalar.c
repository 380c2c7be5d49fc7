/* Dynamic-range ("hybrid") kernels, as TFLite 2.14's reference path runs them: the input rows
 * quantized at run time (tensor_utils' SymmetricQuantizeFloats / AsymmetricQuantizeFloats),
 * int32 dot products with the int8 weights, then `out += (float)dot * (row scale * weight
 * scale)` onto the float bias, and the fused activation. Every float operation is written in
 * TFLite's order and precision (float, and double where TFLite computes in double), and
 * multiply-adds are not contracted into fused ones, so the outputs are TFLite's bit for bit. */
#include "hybrid.h"

#if !defined(PE_NO_FLOAT_KERNELS)

#include <math.h>

#include "conv.h"
#include "qs8_dot.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

int pe_hybrid_is_zero(const float *x, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i)
    if (x[i] != 0.0f) return 0;
  return 1;
}

/* std::round on a float: half away from zero. Values are clamped to the int8 range before the
   conversion (TFLite converts, then clamps; the results agree for every finite value). */
static int32_t round_clamp(float v, int32_t lo, int32_t hi) {
  const float r = roundf(v);
  if (!(r >= (float)lo)) return r < (float)lo ? lo : 0; /* NaN: 0 */
  if (r > (float)hi) return hi;
  return (int32_t)r;
}

void pe_hybrid_quantize_row(const float *x, int32_t n, int asymmetric, int8_t *q, float *scale,
                            int32_t *zero_point) {
  float mn = x[0], mx = x[0];
  int32_t i;
  /* std::minmax_element: the first smallest, the last largest */
  for (i = 1; i < n; ++i) {
    if (x[i] < mn) mn = x[i];
    if (!(x[i] < mx)) mx = x[i];
  }
  if (!asymmetric) {
    const float amn = fabsf(mn), amx = fabsf(mx);
    const float range = amn < amx ? amx : amn;
    float inv;
    *zero_point = 0;
    if (range == 0.0f) {
      memset(q, 0, (size_t)n);
      *scale = 1.0f;
      return;
    }
    *scale = range / 127.0f;
    inv = 127.0f / range;
    for (i = 0; i < n; ++i) q[i] = (int8_t)round_clamp(x[i] * inv, -127, 127);
  } else {
    const double rmin = fmin(0.0, (double)mn), rmax = fmax(0.0, (double)mx);
    double s, zp_min, zp_max, zp;
    int32_t zpi;
    float inv, fzp;
    if (rmin == rmax) {
      memset(q, 0, (size_t)n);
      *scale = 1.0f;
      *zero_point = 0;
      return;
    }
    s = (rmax - rmin) / (127.0 - -128.0);
    zp_min = -128.0 - rmin / s;
    zp_max = 127.0 - rmax / s;
    zp = (128.0 + fabs(rmin / s)) < (127.0 + fabs(rmax / s)) ? zp_min : zp_max;
    if (zp <= -128.0)
      zpi = -128;
    else if (zp >= 127.0)
      zpi = 127;
    else
      zpi = (int32_t)round(zp);
    *scale = (float)s;
    *zero_point = zpi;
    inv = (float)(1.0 / (double)*scale);
    fzp = (float)zpi;
    for (i = 0; i < n; ++i) q[i] = (int8_t)round_clamp(fzp + x[i] * inv, -128, 127);
  }
}

/* `out[u] += dot(w[u], q) * (row_scale * w_scale[u])` for U units; asymmetric rows subtract
   the zero point times the weight row sum first, in float as TFLite does (its batch offset is a
   float), truncated back to int32. */
static void hybrid_rows(const int8_t *q, const int8_t *w, int32_t units, int32_t depth, float row_scale,
                        int32_t zero_point, const float *w_scale, const int32_t *row_sums, float *out) {
  const float fzp = (float)zero_point;
  int32_t u;
  for (u = 0; u < units; ++u) {
    int32_t dot = (int32_t)pe_dot_s8(q, w + (size_t)u * (size_t)depth, depth, 0);
    const float scale = row_scale * w_scale[u];
    if (row_sums != NULL) dot = (int32_t)((float)dot - (float)row_sums[u] * fzp);
    out[u] += (float)dot * scale;
  }
}

/* ---------------------------------------------------------------- FULLY_CONNECTED_HYBRID */

enum { FH_INPUT = 0, FH_WEIGHTS = 1, FH_BIAS = 2, FH_SCALES = 3, FH_ROW_SUMS = 4 };

pe_status pe_fully_connected_hybrid_check(const pe_op_ctx *ctx) {
  const pe_fc_hybrid_params *p = (const pe_fc_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, FH_INPUT), w = pe_input(ctx, FH_WEIGHTS);
  const pe_tensor bias = pe_input(ctx, FH_BIAS), sc = pe_input(ctx, FH_SCALES);
  const pe_tensor rs = pe_input(ctx, FH_ROW_SUMS), out = pe_output(ctx, 0);
  int32_t units, depth, n_in, n_out, i;

  PE_CHECK(ctx->n_inputs == 5 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->asymmetric == 0 || p->asymmetric == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(pe_hybrid_act_ok(p->activation), PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && w.index >= 0 && sc.index >= 0 && out.index >= 0, PE_ERR_SHAPE);
  PE_CHECK(in.dtype == PE_FLOAT32 && out.dtype == PE_FLOAT32 && w.dtype == PE_INT8, PE_ERR_SHAPE);
  PE_CHECK(in.rank >= 1 && w.rank == 2 && out.rank >= 1, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(w.data != NULL && sc.data != NULL && sc.dtype == PE_FLOAT32, PE_ERR_SHAPE); /* constants */
  units = w.dims[0];
  depth = w.dims[1];
  PE_CHECK(p->depth == depth && depth >= 1 && units >= 1, PE_ERR_SHAPE);
  n_in = pe_conv_elems(&in);
  n_out = pe_conv_elems(&out);
  PE_CHECK(n_in >= 0 && n_out >= 0 && pe_conv_elems(&w) >= 0 && n_in % depth == 0, PE_ERR_SHAPE);
  PE_CHECK(out.dims[out.rank - 1] == units && (int64_t)(n_in / depth) * units == n_out, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&sc) == units, PE_ERR_SHAPE);
  if (bias.index >= 0) {
    PE_CHECK(bias.dtype == PE_FLOAT32 && pe_conv_elems(&bias) == units && pe_conv_has_data(ctx, &bias),
             PE_ERR_SHAPE);
  }
  if (p->asymmetric) {
    PE_CHECK(rs.index >= 0 && rs.dtype == PE_INT32 && rs.data != NULL && pe_conv_elems(&rs) == units,
             PE_ERR_SHAPE);
    /* the row sums are the weights' own: a blob cannot make the kernel disagree with itself */
    for (i = 0; i < units; ++i) {
      int32_t s = 0, d;
      for (d = 0; d < depth; ++d) s += ((const int8_t *)w.data)[(size_t)i * (size_t)depth + (size_t)d];
      PE_CHECK(((const int32_t *)rs.data)[i] == s, PE_ERR_BAD_PARAMS);
    }
  } else {
    PE_CHECK(rs.index < 0, PE_ERR_SHAPE);
  }
  PE_CHECK(ctx->scratch_size >= (uint32_t)depth, PE_ERR_BAD_PARAMS);
  return PE_OK;
}

pe_status pe_fully_connected_hybrid__scalar(const pe_op_ctx *ctx) {
  const pe_fc_hybrid_params *p = (const pe_fc_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, FH_INPUT), w = pe_input(ctx, FH_WEIGHTS);
  const pe_tensor bias = pe_input(ctx, FH_BIAS), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data, *b = (const float *)bias.data;
  const float *w_scale = (const float *)pe_input(ctx, FH_SCALES).data;
  const int32_t *row_sums = p->asymmetric ? (const int32_t *)pe_input(ctx, FH_ROW_SUMS).data : NULL;
  const int32_t units = w.dims[0], depth = w.dims[1];
  const int32_t n_in = pe_conv_elems(&in), batches = n_in / depth;
  const int zero = pe_hybrid_is_zero(x, n_in);
  float *y = (float *)out.data;
  int8_t *q = (int8_t *)ctx->scratch;
  int32_t bt, u;
  /* the input and output never share memory (FULLY_CONNECTED_HYBRID is not in place) */
  for (bt = 0; bt < batches; ++bt, x += depth, y += units) {
    float row_scale;
    int32_t zp;
    for (u = 0; u < units; ++u) y[u] = b != NULL ? b[u] : 0.0f;
    if (!zero) {
      pe_hybrid_quantize_row(x, depth, p->asymmetric, q, &row_scale, &zp);
      hybrid_rows(q, (const int8_t *)w.data, units, depth, row_scale, zp, w_scale, row_sums, y);
    }
    for (u = 0; u < units; ++u) y[u] = pe_hybrid_activate(y[u], p->activation);
  }
  return PE_OK;
}

/* The same op with the int32 dot products from a row dot-product microkernel (qs8_dot.h; the
   variant's ukernel, SIMD on x86): each quantized row against a block of weight rows, then the
   float steps of hybrid_rows in the same order. */
#define HYBRID_DOT_BLOCK 64

pe_status pe_fully_connected_hybrid__dot(const pe_op_ctx *ctx) {
  const pe_fc_hybrid_params *p = (const pe_fc_hybrid_params *)ctx->params;
  const pe_qs8_dot_ukernel *uk = (const pe_qs8_dot_ukernel *)ctx->variant->ukernel;
  const pe_tensor in = pe_input(ctx, FH_INPUT), w = pe_input(ctx, FH_WEIGHTS);
  const pe_tensor bias = pe_input(ctx, FH_BIAS), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data, *b = (const float *)bias.data;
  const float *w_scale = (const float *)pe_input(ctx, FH_SCALES).data;
  const int32_t *row_sums = p->asymmetric ? (const int32_t *)pe_input(ctx, FH_ROW_SUMS).data : NULL;
  const int8_t *wd = (const int8_t *)w.data;
  const int32_t units = w.dims[0], depth = w.dims[1];
  const int32_t n_in = pe_conv_elems(&in), batches = n_in / depth;
  const int zero = pe_hybrid_is_zero(x, n_in);
  float *y = (float *)out.data;
  int8_t *q = (int8_t *)ctx->scratch;
  int32_t acc[HYBRID_DOT_BLOCK];
  int32_t bt, u, u0, i;
  for (bt = 0; bt < batches; ++bt, x += depth, y += units) {
    float row_scale;
    int32_t zp;
    for (u = 0; u < units; ++u) y[u] = b != NULL ? b[u] : 0.0f;
    if (!zero) {
      pe_hybrid_quantize_row(x, depth, p->asymmetric, q, &row_scale, &zp);
      for (u0 = 0; u0 < units; u0 += HYBRID_DOT_BLOCK) {
        const int32_t cnt = units - u0 < HYBRID_DOT_BLOCK ? units - u0 : HYBRID_DOT_BLOCK;
        uk->s8_rows((size_t)cnt, (size_t)depth, wd + (size_t)u0 * (size_t)depth, (size_t)depth, q, 0, acc);
        for (i = 0; i < cnt; ++i) {
          int32_t dot = acc[i];
          const float scale = row_scale * w_scale[u0 + i];
          if (row_sums != NULL) dot = (int32_t)((float)dot - (float)row_sums[u0 + i] * (float)zp);
          y[u0 + i] += (float)dot * scale;
        }
      }
    }
    for (u = 0; u < units; ++u) y[u] = pe_hybrid_activate(y[u], p->activation);
  }
  return PE_OK;
}

/* ---------------------------------------------------------------- CONV_2D_HYBRID, DEPTHWISE_CONV_2D_HYBRID */

enum { CH_INPUT = 0, CH_FILTER = 1, CH_BIAS = 2, CH_SCALES = 3 };

static pe_status conv_hybrid_check(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_hybrid_params *p = (const pe_conv_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, CH_INPUT), f = pe_input(ctx, CH_FILTER);
  const pe_tensor bias = pe_input(ctx, CH_BIAS), sc = pe_input(ctx, CH_SCALES), out = pe_output(ctx, 0);
  int32_t oc, image;

  PE_CHECK(ctx->n_inputs == 4 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && f.index >= 0 && sc.index >= 0 && out.index >= 0, PE_ERR_SHAPE);
  PE_CHECK(in.dtype == PE_FLOAT32 && out.dtype == PE_FLOAT32 && f.dtype == PE_INT8 && sc.dtype == PE_FLOAT32,
           PE_ERR_SHAPE);
  PE_CHECK(in.rank == 4 && f.rank == 4 && out.rank == 4, PE_ERR_SHAPE);
  PE_CHECK(f.data != NULL && sc.data != NULL, PE_ERR_SHAPE); /* constants */
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&f) >= 0 && pe_conv_elems(&out) >= 0, PE_ERR_SHAPE);
  PE_CHECK(in.dims[0] == out.dims[0] && in.dims[0] >= 1, PE_ERR_SHAPE);
  oc = out.dims[3];
  PE_CHECK(p->kernel_h == f.dims[1] && p->kernel_w == f.dims[2] && p->kernel_h >= 1 && p->kernel_w >= 1,
           PE_ERR_BAD_PARAMS);
  if (depthwise) {
    PE_CHECK(f.dims[0] == 1 && f.dims[3] == oc && p->depth_multiplier >= 1, PE_ERR_SHAPE);
    PE_CHECK((int64_t)in.dims[3] * p->depth_multiplier == oc, PE_ERR_SHAPE);
    PE_CHECK(p->per_channel == 1, PE_ERR_BAD_PARAMS);
  } else {
    PE_CHECK(f.dims[0] == oc && f.dims[3] == in.dims[3], PE_ERR_SHAPE); /* one group */
    PE_CHECK(p->per_channel == 0 || p->per_channel == 1, PE_ERR_BAD_PARAMS);
  }
  PE_CHECK(pe_conv_elems(&sc) == oc, PE_ERR_SHAPE);
  if (bias.index >= 0)
    PE_CHECK(bias.dtype == PE_FLOAT32 && pe_conv_elems(&bias) == oc && pe_conv_has_data(ctx, &bias),
             PE_ERR_SHAPE);
  PE_CHECK(pe_hybrid_act_ok(p->activation), PE_ERR_BAD_PARAMS);
  PE_CHECK(p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h >= 1 && p->dilation_w >= 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->pad_h >= 0 && p->pad_h <= (1 << 30) && p->pad_w >= 0 && p->pad_w <= (1 << 30), PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)(out.dims[1] > 0 ? out.dims[1] - 1 : 0) * p->stride_h +
                   (int64_t)(p->kernel_h - 1) * p->dilation_h <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)(out.dims[2] > 0 ? out.dims[2] - 1 : 0) * p->stride_w +
                   (int64_t)(p->kernel_w - 1) * p->dilation_w <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  image = pe_conv_elems(&in) / in.dims[0];
  PE_CHECK(ctx->scratch_size >= (uint32_t)image, PE_ERR_BAD_PARAMS);
  return PE_OK;
}

pe_status pe_conv_2d_hybrid_check(const pe_op_ctx *ctx) { return conv_hybrid_check(ctx, 0); }
pe_status pe_depthwise_conv_2d_hybrid_check(const pe_op_ctx *ctx) { return conv_hybrid_check(ctx, 1); }

static void conv_hybrid_run(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_hybrid_params *p = (const pe_conv_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, CH_INPUT), f = pe_input(ctx, CH_FILTER);
  const pe_tensor bias = pe_input(ctx, CH_BIAS), out = pe_output(ctx, 0);
  const float *b = (const float *)bias.data, *ws = (const float *)pe_input(ctx, CH_SCALES).data;
  const int8_t *fd = (const int8_t *)f.data;
  const int32_t n = in.dims[0], ih = in.dims[1], iw = in.dims[2], ic = in.dims[3];
  const int32_t oh = out.dims[1], ow = out.dims[2], oc = out.dims[3];
  const int32_t kh = p->kernel_h, kw = p->kernel_w, image = ih * iw * ic;
  const int32_t fc = depthwise ? 1 : ic, dm = depthwise ? p->depth_multiplier : 1;
  int8_t *q = (int8_t *)ctx->scratch;
  float *y = (float *)out.data;
  int32_t bt, oy, ox, c, fy, fx, k;
  for (bt = 0; bt < n; ++bt) {
    float sf;
    int32_t zp;
    pe_hybrid_quantize_row((const float *)in.data + (size_t)bt * (size_t)image, image, p->per_channel, q, &sf, &zp);
    for (oy = 0; oy < oh; ++oy)
      for (ox = 0; ox < ow; ++ox)
        for (c = 0; c < oc; ++c, ++y) {
          const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
          const int32_t in_c0 = depthwise ? c / dm : 0;
          int32_t acc = 0;
          float v;
          for (fy = 0; fy < kh; ++fy) {
            const int32_t yy = y0 + fy * p->dilation_h;
            if (yy < 0 || yy >= ih) continue;
            for (fx = 0; fx < kw; ++fx) {
              const int32_t xx = x0 + fx * p->dilation_w;
              const int8_t *xq;
              if (xx < 0 || xx >= iw) continue;
              xq = q + ((size_t)yy * (size_t)iw + (size_t)xx) * (size_t)ic + (size_t)in_c0;
              if (depthwise) {
                acc += (int32_t)fd[((size_t)fy * (size_t)kw + (size_t)fx) * (size_t)oc + (size_t)c] *
                       ((int32_t)xq[0] - zp);
              } else {
                const int8_t *fr = fd + (((size_t)c * (size_t)kh + (size_t)fy) * (size_t)kw + (size_t)fx) * (size_t)fc;
                for (k = 0; k < fc; ++k) acc += (int32_t)fr[k] * ((int32_t)xq[k] - zp);
              }
            }
          }
          if (depthwise)
            v = (float)acc * (ws[c] * sf);
          else if (p->per_channel)
            v = (float)acc * ws[c] * sf;
          else
            v = (float)acc * (sf * ws[c]);
          if (b != NULL) v += b[c];
          *y = pe_hybrid_clamp(v, p->activation);
        }
  }
}

pe_status pe_conv_2d_hybrid__scalar(const pe_op_ctx *ctx) {
  conv_hybrid_run(ctx, 0);
  return PE_OK;
}

pe_status pe_depthwise_conv_2d_hybrid__scalar(const pe_op_ctx *ctx) {
  conv_hybrid_run(ctx, 1);
  return PE_OK;
}

/* ---------------------------------------------------------------- float32 companions */

static int is_f32(const pe_tensor *t) { return t->index >= 0 && t->dtype == PE_FLOAT32; }

pe_status pe_fully_connected_float_check(const pe_op_ctx *ctx) {
  const pe_fc_float_params *p = (const pe_fc_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), w = pe_input(ctx, 1), bias = pe_input(ctx, 2), out = pe_output(ctx, 0);
  int32_t n_in, n_out;
  PE_CHECK(ctx->n_inputs == 3 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&in) && is_f32(&w) && is_f32(&out) && in.rank >= 1 && w.rank == 2 && out.rank >= 1,
           PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &w) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(p->depth == w.dims[1] && p->depth >= 1 && w.dims[0] >= 1 && pe_hybrid_act_ok(p->activation),
           PE_ERR_BAD_PARAMS);
  n_in = pe_conv_elems(&in);
  n_out = pe_conv_elems(&out);
  PE_CHECK(n_in >= 0 && n_out >= 0 && pe_conv_elems(&w) >= 0 && n_in % p->depth == 0, PE_ERR_SHAPE);
  PE_CHECK(out.dims[out.rank - 1] == w.dims[0] && (int64_t)(n_in / p->depth) * w.dims[0] == n_out, PE_ERR_SHAPE);
  if (bias.index >= 0)
    PE_CHECK(is_f32(&bias) && pe_conv_elems(&bias) == w.dims[0] && pe_conv_has_data(ctx, &bias), PE_ERR_SHAPE);
  return PE_OK;
}

pe_status pe_fully_connected_float__scalar(const pe_op_ctx *ctx) {
  const pe_fc_float_params *p = (const pe_fc_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), w = pe_input(ctx, 1), bias = pe_input(ctx, 2), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data, *wd = (const float *)w.data, *b = (const float *)bias.data;
  const int32_t units = w.dims[0], depth = p->depth, batches = pe_conv_elems(&in) / depth;
  float *y = (float *)out.data;
  int32_t bt, u, d;
  for (bt = 0; bt < batches; ++bt, x += depth)
    for (u = 0; u < units; ++u) {
      const float *row = wd + (size_t)u * (size_t)depth;
      float total = 0.0f;
      for (d = 0; d < depth; ++d) total += x[d] * row[d];
      *y++ = pe_hybrid_clamp(total + (b != NULL ? b[u] : 0.0f), p->activation);
    }
  return PE_OK;
}

static pe_status conv_float_check(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_hybrid_params *p = (const pe_conv_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), f = pe_input(ctx, 1), bias = pe_input(ctx, 2), out = pe_output(ctx, 0);
  int32_t oc;
  PE_CHECK(ctx->n_inputs == 3 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&in) && is_f32(&f) && is_f32(&out) && in.rank == 4 && f.rank == 4 && out.rank == 4,
           PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &f) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&f) >= 0 && pe_conv_elems(&out) >= 0, PE_ERR_SHAPE);
  PE_CHECK(in.dims[0] == out.dims[0], PE_ERR_SHAPE);
  oc = out.dims[3];
  PE_CHECK(p->kernel_h == f.dims[1] && p->kernel_w == f.dims[2] && p->kernel_h >= 1 && p->kernel_w >= 1 &&
               p->per_channel == 0,
           PE_ERR_BAD_PARAMS);
  if (depthwise) {
    PE_CHECK(f.dims[0] == 1 && f.dims[3] == oc && p->depth_multiplier >= 1, PE_ERR_SHAPE);
    PE_CHECK((int64_t)in.dims[3] * p->depth_multiplier == oc, PE_ERR_SHAPE);
  } else {
    PE_CHECK(f.dims[0] == oc && f.dims[3] == in.dims[3], PE_ERR_SHAPE);
  }
  if (bias.index >= 0)
    PE_CHECK(is_f32(&bias) && pe_conv_elems(&bias) == oc && pe_conv_has_data(ctx, &bias), PE_ERR_SHAPE);
  PE_CHECK(pe_hybrid_act_ok(p->activation), PE_ERR_BAD_PARAMS);
  PE_CHECK(p->stride_h >= 1 && p->stride_w >= 1 && p->dilation_h >= 1 && p->dilation_w >= 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->pad_h >= 0 && p->pad_h <= (1 << 30) && p->pad_w >= 0 && p->pad_w <= (1 << 30), PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)(out.dims[1] > 0 ? out.dims[1] - 1 : 0) * p->stride_h +
                   (int64_t)(p->kernel_h - 1) * p->dilation_h <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)(out.dims[2] > 0 ? out.dims[2] - 1 : 0) * p->stride_w +
                   (int64_t)(p->kernel_w - 1) * p->dilation_w <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  return PE_OK;
}

pe_status pe_conv_2d_float_check(const pe_op_ctx *ctx) { return conv_float_check(ctx, 0); }
pe_status pe_depthwise_conv_2d_float_check(const pe_op_ctx *ctx) { return conv_float_check(ctx, 1); }

static void conv_float_run(const pe_op_ctx *ctx, int depthwise) {
  const pe_conv_hybrid_params *p = (const pe_conv_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), f = pe_input(ctx, 1), bias = pe_input(ctx, 2), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data, *fd = (const float *)f.data, *b = (const float *)bias.data;
  const int32_t n = in.dims[0], ih = in.dims[1], iw = in.dims[2], ic = in.dims[3];
  const int32_t oh = out.dims[1], ow = out.dims[2], oc = out.dims[3];
  const int32_t kh = p->kernel_h, kw = p->kernel_w, dm = depthwise ? p->depth_multiplier : 1;
  float *y = (float *)out.data;
  int32_t bt, oy, ox, c, fy, fx, k;
  for (bt = 0; bt < n; ++bt)
    for (oy = 0; oy < oh; ++oy)
      for (ox = 0; ox < ow; ++ox)
        for (c = 0; c < oc; ++c, ++y) {
          const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
          float total = 0.0f;
          for (fy = 0; fy < kh; ++fy) {
            const int32_t yy = y0 + fy * p->dilation_h;
            if (yy < 0 || yy >= ih) continue;
            for (fx = 0; fx < kw; ++fx) {
              const int32_t xx = x0 + fx * p->dilation_w;
              const float *xp;
              if (xx < 0 || xx >= iw) continue;
              xp = x + (((size_t)bt * (size_t)ih + (size_t)yy) * (size_t)iw + (size_t)xx) * (size_t)ic;
              if (depthwise) {
                total += xp[c / dm] * fd[((size_t)fy * (size_t)kw + (size_t)fx) * (size_t)oc + (size_t)c];
              } else {
                const float *fr = fd + (((size_t)c * (size_t)kh + (size_t)fy) * (size_t)kw + (size_t)fx) * (size_t)ic;
                for (k = 0; k < ic; ++k) total += xp[k] * fr[k];
              }
            }
          }
          *y = pe_hybrid_clamp(total + (b != NULL ? b[c] : 0.0f), p->activation);
        }
}

pe_status pe_conv_2d_float__scalar(const pe_op_ctx *ctx) {
  conv_float_run(ctx, 0);
  return PE_OK;
}

pe_status pe_depthwise_conv_2d_float__scalar(const pe_op_ctx *ctx) {
  conv_float_run(ctx, 1);
  return PE_OK;
}

static pe_status pool_float_check(const pe_op_ctx *ctx) {
  const pe_pool_float_params *p = (const pe_pool_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&in) && is_f32(&out) && in.rank == 4 && out.rank == 4, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&out) >= 0, PE_ERR_SHAPE);
  PE_CHECK(in.dims[0] == out.dims[0] && in.dims[3] == out.dims[3], PE_ERR_SHAPE);
  PE_CHECK(p->stride_h >= 1 && p->stride_w >= 1 && p->filter_h >= 1 && p->filter_w >= 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->pad_h >= 0 && p->pad_w >= 0 && p->pad_h <= (1 << 30) && p->pad_w <= (1 << 30), PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)out.dims[1] * p->stride_h + p->filter_h <= INT32_MAX &&
               (int64_t)out.dims[2] * p->stride_w + p->filter_w <= INT32_MAX,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(pe_hybrid_act_ok(p->activation), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

pe_status pe_max_pool_2d_float_check(const pe_op_ctx *ctx) { return pool_float_check(ctx); }
pe_status pe_average_pool_2d_float_check(const pe_op_ctx *ctx) { return pool_float_check(ctx); }

/* reference_ops::MaxPool / AveragePool (float): the window clipped to the input. */
static void pool_float_run(const pe_op_ctx *ctx, int is_max) {
  const pe_pool_float_params *p = (const pe_pool_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data;
  const int32_t n = in.dims[0], ih = in.dims[1], iw = in.dims[2], ch = in.dims[3];
  const int32_t oh = out.dims[1], ow = out.dims[2];
  float *y = (float *)out.data;
  int32_t bt, oy, ox, c, fy, fx;
  for (bt = 0; bt < n; ++bt)
    for (oy = 0; oy < oh; ++oy)
      for (ox = 0; ox < ow; ++ox)
        for (c = 0; c < ch; ++c) {
          const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
          const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
          const int32_t fy1 = ih - y0 < p->filter_h ? ih - y0 : p->filter_h;
          const int32_t fx1 = iw - x0 < p->filter_w ? iw - x0 : p->filter_w;
          float acc = is_max ? -3.402823466e+38f : 0.0f;
          float count = 0.0f;
          for (fy = fy0; fy < fy1; ++fy)
            for (fx = fx0; fx < fx1; ++fx) {
              const float v = x[(((size_t)bt * (size_t)ih + (size_t)(y0 + fy)) * (size_t)iw + (size_t)(x0 + fx)) *
                                    (size_t)ch + (size_t)c];
              if (is_max)
                acc = acc < v ? v : acc;
              else
                acc += v, count += 1.0f;
            }
          if (!is_max) acc = acc / count;
          *y++ = pe_hybrid_clamp(acc, p->activation);
        }
}

pe_status pe_max_pool_2d_float__scalar(const pe_op_ctx *ctx) {
  pool_float_run(ctx, 1);
  return PE_OK;
}

pe_status pe_average_pool_2d_float__scalar(const pe_op_ctx *ctx) {
  pool_float_run(ctx, 0);
  return PE_OK;
}

pe_status pe_softmax_float_check(const pe_op_ctx *ctx) {
  const pe_softmax_float_params *p = (const pe_softmax_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t i, n;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&in) && is_f32(&out) && in.rank >= 1 && in.rank == out.rank, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  for (i = 0; i < in.rank; ++i) PE_CHECK(in.dims[i] == out.dims[i], PE_ERR_SHAPE);
  n = pe_conv_elems(&in);
  PE_CHECK(n >= 0 && p->depth == in.dims[in.rank - 1] && p->depth >= 1, PE_ERR_SHAPE);
  return PE_OK;
}

/* reference_ops::Softmax (float): max, exp((x - max) * beta) summed in order, then x / sum. */
pe_status pe_softmax_float__scalar(const pe_op_ctx *ctx) {
  const pe_softmax_float_params *p = (const pe_softmax_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data;
  float *y = (float *)out.data, beta;
  const int32_t depth = p->depth, rows = pe_conv_elems(&in) / depth;
  int32_t r, c;
  memcpy(&beta, &p->beta_bits, sizeof(beta));
  for (r = 0; r < rows; ++r, x += depth, y += depth) {
    float mx = -3.402823466e+38f, sum = 0.0f;
    for (c = 0; c < depth; ++c) mx = mx < x[c] ? x[c] : mx;
    for (c = 0; c < depth; ++c) {
      const float e = expf((x[c] - mx) * beta);
      y[c] = e;
      sum += e;
    }
    for (c = 0; c < depth; ++c) y[c] = y[c] / sum;
  }
  return PE_OK;
}

/* ---------------------------------------------------------------- float32 elementwise, MEAN */

static pe_status binary_float_check(const pe_op_ctx *ctx) {
  const pe_binary_float_params *p = (const pe_binary_float_params *)ctx->params;
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  int64_t n = 1, amax = 0, bmax = 0;
  int32_t d;
  PE_CHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&a) && is_f32(&b) && is_f32(&out), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &a) && pe_conv_has_data(ctx, &b) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(pe_hybrid_act_ok(p->activation), PE_ERR_BAD_PARAMS);
  for (d = 0; d < 6; ++d) {
    PE_CHECK(p->out_dims[d] >= 1 && p->a_strides[d] >= 0 && p->b_strides[d] >= 0, PE_ERR_BAD_PARAMS);
    n *= p->out_dims[d];
    PE_CHECK(n <= INT32_MAX, PE_ERR_SHAPE);
    amax += (int64_t)(p->out_dims[d] - 1) * p->a_strides[d];
    bmax += (int64_t)(p->out_dims[d] - 1) * p->b_strides[d];
  }
  PE_CHECK(pe_conv_elems(&out) == n && n >= 1, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&a) > amax && pe_conv_elems(&b) > bmax, PE_ERR_SHAPE);
  return PE_OK;
}

static void binary_float_run(const pe_op_ctx *ctx, int op) {
  const pe_binary_float_params *p = (const pe_binary_float_params *)ctx->params;
  const float *a = (const float *)pe_input(ctx, 0).data, *b = (const float *)pe_input(ctx, 1).data;
  float *y = (float *)pe_output(ctx, 0).data;
  int32_t i[6];
  for (i[0] = 0; i[0] < p->out_dims[0]; ++i[0])
    for (i[1] = 0; i[1] < p->out_dims[1]; ++i[1])
      for (i[2] = 0; i[2] < p->out_dims[2]; ++i[2])
        for (i[3] = 0; i[3] < p->out_dims[3]; ++i[3])
          for (i[4] = 0; i[4] < p->out_dims[4]; ++i[4])
            for (i[5] = 0; i[5] < p->out_dims[5]; ++i[5]) {
              size_t ia = 0, ib = 0;
              int32_t d;
              float u, v, r;
              for (d = 0; d < 6; ++d) {
                ia += (size_t)i[d] * (size_t)p->a_strides[d];
                ib += (size_t)i[d] * (size_t)p->b_strides[d];
              }
              u = a[ia];
              v = b[ib];
              switch (op) {
                case 0: r = pe_hybrid_clamp(u + v, p->activation); break;
                case 1: r = pe_hybrid_clamp(u - v, p->activation); break;
                case 2: r = pe_hybrid_clamp(u * v, p->activation); break;
                default: r = u >= 0.0f ? u : u * v; break;
              }
              *y++ = r;
            }
}

pe_status pe_add_float_check(const pe_op_ctx *ctx) { return binary_float_check(ctx); }
pe_status pe_sub_float_check(const pe_op_ctx *ctx) { return binary_float_check(ctx); }
pe_status pe_mul_float_check(const pe_op_ctx *ctx) { return binary_float_check(ctx); }
pe_status pe_prelu_float_check(const pe_op_ctx *ctx) { return binary_float_check(ctx); }
pe_status pe_add_float__scalar(const pe_op_ctx *ctx) {
  binary_float_run(ctx, 0);
  return PE_OK;
}
pe_status pe_sub_float__scalar(const pe_op_ctx *ctx) {
  binary_float_run(ctx, 1);
  return PE_OK;
}
pe_status pe_mul_float__scalar(const pe_op_ctx *ctx) {
  binary_float_run(ctx, 2);
  return PE_OK;
}
pe_status pe_prelu_float__scalar(const pe_op_ctx *ctx) {
  binary_float_run(ctx, 3);
  return PE_OK;
}

pe_status pe_relu_float_check(const pe_op_ctx *ctx) {
  const pe_relu_float_params *p = (const pe_relu_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&in) && is_f32(&out) && pe_conv_elems(&in) >= 0 && pe_conv_elems(&in) == pe_conv_elems(&out),
           PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(p->kind >= 0 && p->kind <= 2, PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* reads element i before writing element i: may run in place */
pe_status pe_relu_float__scalar(const pe_op_ctx *ctx) {
  const pe_relu_float_params *p = (const pe_relu_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data;
  float *y = (float *)out.data;
  const float lo = p->kind == 2 ? -1.0f : 0.0f, hi = p->kind == 1 ? 6.0f : 1.0f;
  const int32_t n = pe_conv_elems(&in);
  int32_t i;
  for (i = 0; i < n; ++i) {
    float v = x[i];
    v = v < lo ? lo : v;
    if (p->kind != 0) v = hi < v ? hi : v;
    y[i] = v;
  }
  return PE_OK;
}

pe_status pe_mean_float_check(const pe_op_ctx *ctx) {
  const pe_mean_float_params *p = (const pe_mean_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int64_t n = 1, kept = 1;
  int32_t d;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&in) && is_f32(&out), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  PE_CHECK(p->axis_mask > 0 && p->axis_mask < 64, PE_ERR_BAD_PARAMS);
  for (d = 0; d < 6; ++d) {
    PE_CHECK(p->in_dims[d] >= 1, PE_ERR_BAD_PARAMS);
    n *= p->in_dims[d];
    PE_CHECK(n <= INT32_MAX, PE_ERR_SHAPE);
    if (!(p->axis_mask >> d & 1)) kept *= p->in_dims[d];
  }
  PE_CHECK(pe_conv_elems(&in) == n && pe_conv_elems(&out) == kept, PE_ERR_SHAPE);
  return PE_OK;
}

/* reference_ops::Mean (float): sums into the output in the input's order, then / count */
pe_status pe_mean_float__scalar(const pe_op_ctx *ctx) {
  const pe_mean_float_params *p = (const pe_mean_float_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data;
  float *y = (float *)out.data;
  const int32_t n_out = pe_conv_elems(&out);
  int32_t i[6], d, k;
  size_t count = 1;
  for (d = 0; d < 6; ++d)
    if (p->axis_mask >> d & 1) count *= (size_t)p->in_dims[d];
  for (k = 0; k < n_out; ++k) y[k] = 0.0f;
  for (i[0] = 0; i[0] < p->in_dims[0]; ++i[0])
    for (i[1] = 0; i[1] < p->in_dims[1]; ++i[1])
      for (i[2] = 0; i[2] < p->in_dims[2]; ++i[2])
        for (i[3] = 0; i[3] < p->in_dims[3]; ++i[3])
          for (i[4] = 0; i[4] < p->in_dims[4]; ++i[4])
            for (i[5] = 0; i[5] < p->in_dims[5]; ++i[5]) {
              size_t o = 0;
              for (d = 0; d < 6; ++d)
                if (!(p->axis_mask >> d & 1)) o = o * (size_t)p->in_dims[d] + (size_t)i[d];
              y[o] += *x++;
            }
  for (k = 0; k < n_out; ++k) y[k] = y[k] / (float)count;
  return PE_OK;
}

/* ---------------------------------------------------------------- SVDF_HYBRID */

pe_status pe_svdf_hybrid_check(const pe_op_ctx *ctx) {
  const pe_svdf_hybrid_params *p = (const pe_svdf_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), wf = pe_input(ctx, 1), wt = pe_input(ctx, 2), bias = pe_input(ctx, 3);
  const pe_tensor st = pe_input(ctx, 4), rs = pe_input(ctx, 5), out = pe_output(ctx, 0);
  int32_t nb, ni, nf, nm, i, d;
  PE_CHECK(ctx->n_inputs == 6 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_f32(&in) && wf.index >= 0 && wf.dtype == PE_INT8 && is_f32(&wt) && is_f32(&st) && is_f32(&out),
           PE_ERR_SHAPE);
  PE_CHECK(rs.index >= 0 && rs.dtype == PE_INT32 && rs.data != NULL && wf.data != NULL && wt.data != NULL,
           PE_ERR_SHAPE);
  PE_CHECK(in.rank == 2 && wf.rank == 2 && wt.rank == 2 && st.rank == 2 && out.rank == 2, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &st) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
  nb = in.dims[0];
  ni = in.dims[1];
  nf = wf.dims[0];
  nm = wt.dims[1];
  PE_CHECK(nb >= 1 && ni >= 1 && nf >= 1 && nm >= 1 && wf.dims[1] == ni && wt.dims[0] == nf, PE_ERR_SHAPE);
  PE_CHECK(p->rank >= 1 && nf % p->rank == 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->asymmetric == 0 || p->asymmetric == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(pe_hybrid_act_ok(p->activation), PE_ERR_BAD_PARAMS);
  PE_CHECK(pe_conv_elems(&in) >= 0 && pe_conv_elems(&wf) >= 0 && pe_conv_elems(&wt) >= 0, PE_ERR_SHAPE);
  PE_CHECK(st.dims[0] == nb && (int64_t)st.dims[1] == (int64_t)nm * nf && pe_conv_elems(&st) >= 0, PE_ERR_SHAPE);
  PE_CHECK(out.dims[0] == nb && out.dims[1] == nf / p->rank, PE_ERR_SHAPE);
  if (bias.index >= 0)
    PE_CHECK(is_f32(&bias) && pe_conv_elems(&bias) == nf / p->rank && pe_conv_has_data(ctx, &bias), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&rs) == nf, PE_ERR_SHAPE);
  for (i = 0; i < nf; ++i) {
    int32_t sum = 0;
    for (d = 0; d < ni; ++d) sum += ((const int8_t *)wf.data)[(size_t)i * (size_t)ni + (size_t)d];
    PE_CHECK(((const int32_t *)rs.data)[i] == sum, PE_ERR_BAD_PARAMS);
  }
  PE_CHECK((uint64_t)ctx->scratch_size >= (uint64_t)((ni + 3) / 4 * 4) + 4u * (uint64_t)nf, PE_ERR_BAD_PARAMS);
  return PE_OK;
}

pe_status pe_svdf_hybrid__scalar(const pe_op_ctx *ctx) {
  const pe_svdf_hybrid_params *p = (const pe_svdf_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), wf = pe_input(ctx, 1), wt = pe_input(ctx, 2), bias = pe_input(ctx, 3);
  const pe_tensor st = pe_input(ctx, 4), rs = pe_input(ctx, 5), out = pe_output(ctx, 0);
  const float *x = (const float *)in.data, *wtime = (const float *)wt.data, *b = (const float *)bias.data;
  const int8_t *wfeat = (const int8_t *)wf.data;
  const int32_t *row_sums = (const int32_t *)rs.data;
  float *state = (float *)st.data, *y = (float *)out.data;
  const int32_t nb = in.dims[0], ni = in.dims[1], nf = wf.dims[0], nm = wt.dims[1];
  const int32_t rank = p->rank, nu = nf / rank;
  int8_t *q = (int8_t *)ctx->scratch;
  float *scratch = (float *)(void *)(ctx->scratch + (size_t)((ni + 3) / 4 * 4));
  float feature_scale;
  int32_t bt, f, m, u, r;
  memcpy(&feature_scale, &p->feature_scale_bits, sizeof(feature_scale));
  /* the state moves left by one element over the whole buffer */
  memmove(state, state + 1, ((size_t)nb * (size_t)nm * (size_t)nf - 1) * sizeof(float));
  {
    const int zero = pe_hybrid_is_zero(x, nb * ni);
    for (bt = 0; bt < nb; ++bt) {
      const float *xr = x + (size_t)bt * (size_t)ni;
      float *srow = state + (size_t)bt * (size_t)nm * (size_t)nf;
      for (f = 0; f < nf; ++f) scratch[f] = 0.0f;
      if (!zero) {
        float sf;
        int32_t zp;
        pe_hybrid_quantize_row(xr, ni, p->asymmetric, q, &sf, &zp);
        sf = sf * feature_scale;
        for (f = 0; f < nf; ++f) {
          int32_t dot = (int32_t)pe_dot_s8(q, wfeat + (size_t)f * (size_t)ni, ni, 0);
          dot = (int32_t)((float)dot - (float)row_sums[f] * (float)zp);
          scratch[f] += (float)dot * sf;
        }
      }
      for (f = 0; f < nf; ++f) srow[(size_t)f * (size_t)nm + (size_t)(nm - 1)] = scratch[f];
      /* time weights: one float dot product per filter over its memory */
      for (f = 0; f < nf; ++f) {
        const float *a = wtime + (size_t)f * (size_t)nm, *s = srow + (size_t)f * (size_t)nm;
        float acc = 0.0f;
        for (m = 0; m < nm; ++m) acc += a[m] * s[m];
        scratch[f] = acc;
      }
      /* the rank's filters of each unit summed, then bias and activation */
      for (u = 0; u < nu; ++u) {
        float acc = 0.0f;
        for (r = 0; r < rank; ++r) acc += scratch[u * rank + r];
        if (b != NULL) acc += b[u];
        y[(size_t)bt * (size_t)nu + (size_t)u] = pe_hybrid_activate(acc, p->activation);
      }
    }
  }
  return PE_OK;
}

/* ---------------------------------------------------------------- UNIDIRECTIONAL_SEQUENCE_LSTM_HYBRID */

enum { LH_INPUT = 0, LH_W_X = 1, LH_W_H = 5, LH_PEEP = 9, LH_BIAS = 12, LH_PROJ_W = 16, LH_PROJ_B = 17,
       LH_H = 18, LH_C = 19, LH_RS_X = 20, LH_RS_H = 24, LH_RS_P = 28, LH_N_INPUTS = 29 };

static float f32_of_bits(int32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

static int lh_matrix_ok(const pe_tensor *w, int32_t rows, int32_t cols) {
  return w->dtype == PE_INT8 && w->data != NULL && w->rank == 2 && w->dims[0] == rows && w->dims[1] == cols;
}

static int lh_vector_ok(const pe_op_ctx *ctx, const pe_tensor *t, int32_t n) {
  return t->dtype == PE_FLOAT32 && t->rank == 1 && t->dims[0] == n && pe_conv_has_data(ctx, t);
}

/* the row sums, when the kernel reads them, are the weights' own */
static int lh_row_sums_ok(const pe_tensor *rs, const pe_tensor *w, int asymmetric) {
  int32_t r, c;
  if (!asymmetric) return rs->index < 0;
  if (rs->index < 0 || rs->dtype != PE_INT32 || rs->data == NULL || rs->rank != 1 || rs->dims[0] != w->dims[0])
    return 0;
  for (r = 0; r < w->dims[0]; ++r) {
    int32_t sum = 0;
    for (c = 0; c < w->dims[1]; ++c) sum += ((const int8_t *)w->data)[(size_t)r * (size_t)w->dims[1] + (size_t)c];
    if (((const int32_t *)rs->data)[r] != sum) return 0;
  }
  return 1;
}

pe_status pe_unidirectional_sequence_lstm_hybrid_check(const pe_op_ctx *ctx) {
  const pe_lstm_hybrid_params *p = (const pe_lstm_hybrid_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, LH_INPUT), out = pe_output(ctx, 0);
  const pe_tensor h = pe_input(ctx, LH_H), c = pe_input(ctx, LH_C);
  const int32_t nb = p->n_batch, nt = p->n_time, ni = p->n_input, nc = p->n_cell, no = p->n_output;
  int32_t g, k;
  PE_CHECK(ctx->n_inputs == LH_N_INPUTS && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->time_major == 0 || p->time_major == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->use_cifg == 0 || p->use_cifg == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->use_peephole == 0 || p->use_peephole == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->use_projection == 0 || p->use_projection == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->asymmetric == 0 || p->asymmetric == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->activation >= 1 && p->activation <= 4, PE_ERR_BAD_PARAMS);
  PE_CHECK(nb >= 1 && nt >= 1 && ni >= 1 && nc >= 1 && no >= 1, PE_ERR_SHAPE);
  PE_CHECK((int64_t)nb * nt * (ni > no ? ni : no) < ((int64_t)1 << 28) && (int64_t)nb * nc < ((int64_t)1 << 24),
           PE_ERR_SHAPE);
  PE_CHECK(p->use_projection || no == nc, PE_ERR_SHAPE);
  PE_CHECK(is_f32(&in) && is_f32(&out) && is_f32(&h) && is_f32(&c), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out) && pe_conv_has_data(ctx, &h) &&
               pe_conv_has_data(ctx, &c), PE_ERR_SHAPE);
  PE_CHECK(in.rank == 3 && out.rank == 3, PE_ERR_SHAPE);
  PE_CHECK(in.dims[0] == (p->time_major ? nt : nb) && in.dims[1] == (p->time_major ? nb : nt) && in.dims[2] == ni,
           PE_ERR_SHAPE);
  PE_CHECK(out.dims[0] == in.dims[0] && out.dims[1] == in.dims[1] && out.dims[2] == no, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&h) == nb * no && pe_conv_elems(&c) == nb * nc, PE_ERR_SHAPE);
  for (g = 0; g < 4; ++g) {
    const pe_tensor wx = pe_input(ctx, (uint32_t)(LH_W_X + g)), wh = pe_input(ctx, (uint32_t)(LH_W_H + g));
    const pe_tensor b = pe_input(ctx, (uint32_t)(LH_BIAS + g));
    const pe_tensor rx = pe_input(ctx, (uint32_t)(LH_RS_X + g)), rh = pe_input(ctx, (uint32_t)(LH_RS_H + g));
    if (g == 0 && p->use_cifg) {
      PE_CHECK(wx.index < 0 && wh.index < 0 && b.index < 0 && rx.index < 0 && rh.index < 0, PE_ERR_SHAPE);
      continue;
    }
    PE_CHECK(wx.index >= 0 && wh.index >= 0 && b.index >= 0, PE_ERR_SHAPE);
    PE_CHECK(lh_matrix_ok(&wx, nc, ni) && lh_matrix_ok(&wh, nc, no) && lh_vector_ok(ctx, &b, nc), PE_ERR_SHAPE);
    PE_CHECK(lh_row_sums_ok(&rx, &wx, p->asymmetric) && lh_row_sums_ok(&rh, &wh, p->asymmetric), PE_ERR_BAD_PARAMS);
  }
  for (k = 0; k < 3; ++k) {
    const pe_tensor w = pe_input(ctx, (uint32_t)(LH_PEEP + k));
    if (!p->use_peephole || (k == 0 && p->use_cifg)) {
      PE_CHECK(w.index < 0, PE_ERR_SHAPE);
    } else {
      PE_CHECK(w.index >= 0 && lh_vector_ok(ctx, &w, nc), PE_ERR_SHAPE);
    }
  }
  {
    const pe_tensor pw = pe_input(ctx, LH_PROJ_W), pb = pe_input(ctx, LH_PROJ_B), pr = pe_input(ctx, LH_RS_P);
    if (p->use_projection) {
      PE_CHECK(pw.index >= 0 && lh_matrix_ok(&pw, no, nc), PE_ERR_SHAPE);
      PE_CHECK(lh_row_sums_ok(&pr, &pw, p->asymmetric), PE_ERR_BAD_PARAMS);
      if (pb.index >= 0) PE_CHECK(lh_vector_ok(ctx, &pb, no), PE_ERR_SHAPE);
    } else {
      PE_CHECK(pw.index < 0 && pb.index < 0 && pr.index < 0, PE_ERR_SHAPE);
    }
  }
  PE_CHECK(ctx->scratch_size >= pe_lstm_hybrid_scratch(p->time_major ? nb : 1, ni, nc, no), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* TFLite 2.14's ApplyTanhToVector and ApplySigmoidToVector evaluate Eigen's float tanh and
   logistic (measured against BUILTIN_REF: every element matches these, and none matches libm's
   tanhf or 1 / (1 + expf(-x))), in their non-FMA form: */

/* Eigen's generic_fast_tanh_float: a 13/6 rational polynomial on x clamped to +-7.9053111,
   x itself below 0.0004 in magnitude */
static float lh_tanh(float a) {
  const float clamp = 7.90531110763549805f;
  float x = clamp < a ? clamp : a, x2, p, q;
  x = x < -clamp ? -clamp : x;
  x2 = x * x;
  p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return fabsf(a) < 0.0004f ? x : p / q;
}

/* 2^k for k in [-126, 127] */
static float lh_pow2(int32_t k) { return f32_of_bits((k + 127) << 23); }

/* Eigen's pexp_float: exp(r) * 2^m with m = floor(x log2(e) + 1/2), r = x - m ln 2 in two
   parts, a degree-6 polynomial; 2^m applied as pldexp does (three factors 2^floor(m/4), then
   the rest); 0 below -104 */
static float lh_exp(float x0) {
  float x, m, r, r2, even, odd, y, c;
  int32_t mi, b;
  if (x0 < -104.0f) return 0.0f;
  x = x0 < 88.3762626647949f ? x0 : 88.3762626647949f; /* logistic is 1 from ~17.3 on anyway */
  m = floorf(x * 1.44269504088896341f + 0.5f);
  r = m * -0.693359375f + x;
  r = m * 2.12194440e-4f + r;
  r2 = r * r;
  even = r2 * 1.37449637986719608306884765625e-3f + 4.166965186595916748046875e-2f;
  odd = r2 * 8.36894474923610687255859375e-3f + 0.16666518151760101318359375f;
  even = r2 * even + 0.49999988079071044921875f;
  y = r * odd + even;
  y = r2 * y + (r + 1.0f);
  mi = (int32_t)m;
  b = mi >= 0 ? mi / 4 : -((-mi + 3) / 4); /* floor(m / 4) */
  c = lh_pow2(b);
  y = y * c * c * c * lh_pow2(mi - 3 * b);
  return y < x0 ? x0 : y;
}

/* Eigen's logistic, vectorized (SSE, 4 floats) form: e / (1 + e), e = pexp(x) */
static float lh_sigmoid(float v) {
  const float e = lh_exp(v);
  return e / (1.0f + e);
}

/* Eigen's logistic, scalar form: e / (1 + e), e = std::exp(min(x, 16.6355324)) */
static float lh_sigmoid_scalar(float v) {
  const float e = expf(v < 16.6355324f ? v : 16.6355324f);
  return e / (1.0f + e);
}

/* ApplySigmoidToVector over n floats in place at element `offset` of TFLite's 16-byte aligned
   gate scratch buffer: Eigen takes the elements before the first 16-byte boundary and those
   after the last whole packet one by one (the scalar form), the rest four at a time. */
static void lh_sigmoid_vector(float *v, int32_t n, int64_t offset) {
  const int32_t head = (int32_t)((4 - offset % 4) % 4);
  const int32_t start = head < n ? head : n, end = start + (n - start) / 4 * 4;
  int32_t i;
  for (i = 0; i < n; ++i) v[i] = (i >= start && i < end) ? lh_sigmoid(v[i]) : lh_sigmoid_scalar(v[i]);
}

/* tensor_utils::ApplyActivationToVector (SIGMOID: ApplySigmoidToVector), std::max / std::min */
static float lh_activate(float v, int32_t act) {
  switch (act) {
    case 1: return 0.0f < v ? v : 0.0f;
    case 2: v = 1.0f < v ? 1.0f : v; return -1.0f < v ? v : -1.0f;
    case 3: v = 6.0f < v ? 6.0f : v; return 0.0f < v ? v : 0.0f;
    default: return lh_tanh(v);
  }
}

/* tensor_utils::CwiseClipping: max(min(clip, v), -clip) */
static float lh_clip(float v, float clip) {
  v = clip < v ? clip : v;
  return v < -clip ? -clip : v;
}

/* MatrixBatchVectorMultiplyAccumulate with a per-matrix scale: gate[b][r] += dot * (sf[b] * scale) */
static void lh_matmul(const int8_t *w, int32_t rows, int32_t cols, const int8_t *q, const float *sf, const int32_t *zp,
                      int32_t nb, float w_scale, const int32_t *row_sums, float *gate) {
  int32_t b, r;
  for (b = 0; b < nb; ++b) {
    const float scale = sf[b] * w_scale, fzp = (float)zp[b];
    const int8_t *qb = q + (size_t)b * (size_t)cols;
    float *gb = gate + (size_t)b * (size_t)rows;
    for (r = 0; r < rows; ++r) {
      int32_t dot = (int32_t)pe_dot_s8(qb, w + (size_t)r * (size_t)cols, cols, 0);
      if (row_sums != NULL) dot = (int32_t)((float)dot - (float)row_sums[r] * fzp);
      gb[r] += (float)dot * scale;
    }
  }
}

static void lh_quantize_rows(const float *x, int32_t nb, int32_t n, int asymmetric, int8_t *q, float *sf, int32_t *zp) {
  int32_t b;
  for (b = 0; b < nb; ++b)
    pe_hybrid_quantize_row(x + (size_t)b * (size_t)n, n, asymmetric, q + (size_t)b * (size_t)n, &sf[b], &zp[b]);
}

typedef struct {
  int8_t *qx, *qh, *qc;
  float *gate[4], *hidden, *sf_x, *sf_h, *sf_c;
  int32_t *zp_x, *zp_h, *zp_c;
} lh_scratch;

static const int32_t *lh_row_sums(const pe_op_ctx *ctx, int asymmetric, uint32_t k) {
  return asymmetric ? (const int32_t *)pe_input(ctx, k).data : NULL;
}

/* Where gate g (0 input, 1 forget, 3 output) starts in TFLite's scratch buffer, in floats: one
   B x C block per gate in the order input, cell, forget, output, the input gate's left out with
   CIFG */
static int64_t lh_slot(const pe_lstm_hybrid_params *p, int32_t g) {
  const int32_t slot = g == 0 ? 0 : g == 1 ? 2 : 3;
  return (int64_t)(p->use_cifg ? slot - 1 : slot) * p->n_batch * p->n_cell;
}

/* One LstmStepHybrid over nb rows: x [nb, I], h [nb, O], c [nb, C]; y rows y_stride apart; the
   rows' gates sit row0 floats into each gate's block of TFLite's scratch. */
static void lh_step(const pe_op_ctx *ctx, const lh_scratch *s, const float *x, int32_t nb, float *h, float *c, float *y,
                    int32_t y_stride, int64_t row0) {
  const pe_lstm_hybrid_params *p = (const pe_lstm_hybrid_params *)ctx->params;
  const int32_t ni = p->n_input, nc = p->n_cell, no = p->n_output, n = nb * nc;
  const int x_zero = pe_hybrid_is_zero(x, nb * ni), h_zero = pe_hybrid_is_zero(h, nb * no);
  const float cell_clip = f32_of_bits(p->cell_clip_bits), proj_clip = f32_of_bits(p->proj_clip_bits);
  int32_t g, i, b;
  if (!x_zero) lh_quantize_rows(x, nb, ni, p->asymmetric, s->qx, s->sf_x, s->zp_x);
  if (!h_zero) lh_quantize_rows(h, nb, no, p->asymmetric, s->qh, s->sf_h, s->zp_h);
  for (g = 0; g < 4; ++g) {
    const float *bias = (const float *)pe_input(ctx, (uint32_t)(LH_BIAS + g)).data;
    const float *peep = NULL;
    float *gate = s->gate[g];
    if (g == 0 && p->use_cifg) continue;
    for (b = 0; b < nb; ++b) memcpy(gate + (size_t)b * (size_t)nc, bias, (size_t)nc * sizeof(float));
    if (!x_zero)
      lh_matmul((const int8_t *)pe_input(ctx, (uint32_t)(LH_W_X + g)).data, nc, ni, s->qx, s->sf_x, s->zp_x, nb,
                f32_of_bits(p->input_scale_bits[g]), lh_row_sums(ctx, p->asymmetric, (uint32_t)(LH_RS_X + g)), gate);
    if (!h_zero)
      lh_matmul((const int8_t *)pe_input(ctx, (uint32_t)(LH_W_H + g)).data, nc, no, s->qh, s->sf_h, s->zp_h, nb,
                f32_of_bits(p->recurrent_scale_bits[g]), lh_row_sums(ctx, p->asymmetric, (uint32_t)(LH_RS_H + g)),
                gate);
    if (g == 2) { /* the cell gate: no peephole, the cell activation */
      for (i = 0; i < n; ++i) gate[i] = lh_activate(gate[i], p->activation);
      continue;
    }
    if (g == 3) break; /* the output gate's peephole reads the updated cell state */
    if (p->use_peephole) peep = (const float *)pe_input(ctx, (uint32_t)(LH_PEEP + g)).data;
    if (peep != NULL)
      for (i = 0; i < n; ++i) gate[i] += peep[i % nc] * c[i];
    lh_sigmoid_vector(gate, n, lh_slot(p, g) + row0);
  }
  /* UpdateLstmCellFloat */
  for (i = 0; i < n; ++i) c[i] = s->gate[1][i] * c[i];
  if (p->use_cifg) {
    for (i = 0; i < n; ++i) s->gate[1][i] = 1.0f - s->gate[1][i];
    for (i = 0; i < n; ++i) c[i] += s->gate[2][i] * s->gate[1][i];
  } else {
    for (i = 0; i < n; ++i) c[i] += s->gate[2][i] * s->gate[0][i];
  }
  if (cell_clip > 0.0f)
    for (i = 0; i < n; ++i) c[i] = lh_clip(c[i], cell_clip);
  /* the output gate */
  {
    float *gate = s->gate[3];
    if (p->use_peephole) {
      const float *peep = (const float *)pe_input(ctx, LH_PEEP + 2).data;
      for (i = 0; i < n; ++i) gate[i] += peep[i % nc] * c[i];
    }
    lh_sigmoid_vector(gate, n, lh_slot(p, 3) + row0);
    /* CalculateLstmOutputHybrid */
    for (i = 0; i < n; ++i) s->hidden[i] = lh_activate(c[i], p->activation);
    for (i = 0; i < n; ++i) s->hidden[i] = gate[i] * s->hidden[i];
  }
  if (p->use_projection) {
    const float *pb = (const float *)pe_input(ctx, LH_PROJ_B).data;
    for (b = 0; b < nb; ++b)
      for (i = 0; i < no; ++i) h[(size_t)b * (size_t)no + (size_t)i] = pb != NULL ? pb[i] : 0.0f;
    if (!pe_hybrid_is_zero(s->hidden, n)) {
      lh_quantize_rows(s->hidden, nb, nc, p->asymmetric, s->qc, s->sf_c, s->zp_c);
      lh_matmul((const int8_t *)pe_input(ctx, LH_PROJ_W).data, no, nc, s->qc, s->sf_c, s->zp_c, nb,
                f32_of_bits(p->proj_scale_bits), lh_row_sums(ctx, p->asymmetric, LH_RS_P), h);
    }
    if (proj_clip > 0.0f)
      for (i = 0; i < nb * no; ++i) h[i] = lh_clip(h[i], proj_clip);
  } else {
    memcpy(h, s->hidden, (size_t)n * sizeof(float));
  }
  for (b = 0; b < nb; ++b) memcpy(y + (size_t)b * (size_t)y_stride, h + (size_t)b * (size_t)no, (size_t)no * sizeof(float));
}

pe_status pe_unidirectional_sequence_lstm_hybrid__scalar(const pe_op_ctx *ctx) {
  const pe_lstm_hybrid_params *p = (const pe_lstm_hybrid_params *)ctx->params;
  const int32_t nb = p->n_batch, nt = p->n_time, ni = p->n_input, nc = p->n_cell, no = p->n_output;
  const int32_t rows = p->time_major ? nb : 1; /* rows per step */
  const float *x = (const float *)pe_input(ctx, LH_INPUT).data;
  float *h = (float *)pe_input(ctx, LH_H).data, *c = (float *)pe_input(ctx, LH_C).data;
  float *y = (float *)pe_output(ctx, 0).data;
  uint8_t *at = ctx->scratch;
  lh_scratch s;
  int32_t g, b, t;
  s.qx = (int8_t *)at;
  at += (rows * ni + 3) / 4 * 4;
  s.qh = (int8_t *)at;
  at += (rows * no + 3) / 4 * 4;
  s.qc = (int8_t *)at;
  at += (rows * nc + 3) / 4 * 4;
  for (g = 0; g < 4; ++g, at += 4 * (size_t)rows * (size_t)nc) s.gate[g] = (float *)(void *)at;
  s.hidden = (float *)(void *)at;
  at += 4 * (size_t)rows * (size_t)nc;
  s.sf_x = (float *)(void *)at;
  s.sf_h = s.sf_x + rows;
  s.sf_c = s.sf_h + rows;
  s.zp_x = (int32_t *)(void *)(s.sf_c + rows);
  s.zp_h = s.zp_x + rows;
  s.zp_c = s.zp_h + rows;
  if (p->time_major) {
    for (t = 0; t < nt; ++t)
      lh_step(ctx, &s, x + (size_t)t * (size_t)nb * (size_t)ni, nb, h, c, y + (size_t)t * (size_t)nb * (size_t)no, no, 0);
  } else {
    for (b = 0; b < nb; ++b)
      for (t = 0; t < nt; ++t)
        lh_step(ctx, &s, x + ((size_t)b * (size_t)nt + (size_t)t) * (size_t)ni, 1, h + (size_t)b * (size_t)no,
                c + (size_t)b * (size_t)nc, y + ((size_t)b * (size_t)nt + (size_t)t) * (size_t)no, no,
                (int64_t)b * nc); /* TFLite points its gate scratch at batch b */
  }
  return PE_OK;
}

#endif /* !PE_NO_FLOAT_KERNELS */
