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

#endif /* !PE_NO_FLOAT_KERNELS */
