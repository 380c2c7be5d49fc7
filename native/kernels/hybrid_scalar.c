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

#endif /* !PE_NO_FLOAT_KERNELS */
