/* FULLY_CONNECTED and BATCH_MATMUL, as TFLite's reference_integer_ops::FullyConnected /
 * FullyConnectedPerChannel and reference_ops::BatchMatMul: int8 (int32 accumulator) and int16
 * activations with int8 weights for FULLY_CONNECTED (int64 accumulator with an int64 bias, int32
 * with an int32 bias or none), int8 x int8 and int16 x int16 (int64 accumulator) for
 * BATCH_MATMUL. int8 FULLY_CONNECTED sums are formed in uint32 (wrapping as TFLite's int32
 * accumulator); the others exactly in int64, wrapped where TFLite's are int32. uint8 (TFLite's
 * legacy asymmetric FULLY_CONNECTED, reference_ops::FullyConnected): uint8 input, weights and
 * output, int32 bias, filter_offset = -weights zero point in [-255, 0]. */
#include "conv.h"
#include "conv16_drivers.h"
#include "gemm_drivers.h"

/* uint8 offsets and clamp: input offset and filter offset in [-255, 0], output zp in [0, 255] */
static int fc_offsets_u8_ok(const pe_fc_params *p) {
  return p->input_offset >= -255 && p->input_offset <= 0 && p->filter_offset >= -255 && p->filter_offset <= 0 &&
         p->output_offset >= 0 && p->output_offset <= 255 && 0 <= p->act_min && p->act_min <= p->act_max &&
         p->act_max <= 255;
}

/* ---------------------------------------------------------------- FULLY_CONNECTED */

enum { FC_INPUT = 0, FC_WEIGHTS = 1, FC_BIAS = 2, FC_MULT = 3, FC_SHIFT = 4 };

pe_status pe_fully_connected_check(const pe_op_ctx *ctx) {
  const pe_fc_params *p = (const pe_fc_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, FC_INPUT), w = pe_input(ctx, FC_WEIGHTS);
  const pe_tensor bias = pe_input(ctx, FC_BIAS), out = pe_output(ctx, 0);
  const pe_tensor mult = pe_input(ctx, FC_MULT), shift = pe_input(ctx, FC_SHIFT);
  const int is8 = in.dtype == PE_INT8 || in.dtype == PE_UINT8; /* int32 accumulator and bias */
  int32_t units, depth, n_in, n_out;
  pe_status st;

  PE_CHECK(ctx->n_inputs == 5 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && w.index >= 0 && out.index >= 0, PE_ERR_SHAPE);
  if (ctx->op->layout == PE_LAYOUT_QS8_GEMM_N16K4 || ctx->op->layout == PE_LAYOUT_QS4_GEMM_N16K8) {
    /* packed GEMM layout (gemm_drivers.c): int8 with weights without zero point, or uint8; bias
       folded in */
    const int s16 = in.dtype == PE_INT16; /* 16x8: the op keeps its bias (qs16_gemm.h) */
    PE_CHECK((in.dtype == PE_INT8 || in.dtype == PE_UINT8 || s16) && out.dtype == in.dtype && in.rank >= 1 &&
                 out.rank >= 1, PE_ERR_SHAPE);
    PE_CHECK((s16 || bias.index < 0) && (in.dtype == PE_UINT8 || p->filter_offset == 0), PE_ERR_SHAPE);
    if (s16) {
      PE_CHECK(ctx->op->layout == PE_LAYOUT_QS8_GEMM_N16K4 && pe_conv_has_data(ctx, &bias), PE_ERR_SHAPE);
      if (bias.index >= 0)
        PE_CHECK((bias.dtype == PE_INT64 || bias.dtype == PE_INT32) && pe_conv_elems(&bias) == out.dims[out.rank - 1],
                 PE_ERR_SHAPE);
    }
    /* int4 weights (qs4_gemm.h) only with int8 activations */
    PE_CHECK(ctx->op->layout != PE_LAYOUT_QS4_GEMM_N16K8 || in.dtype == PE_INT8, PE_ERR_SHAPE);
    PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &out), PE_ERR_SHAPE);
    units = out.dims[out.rank - 1];
    depth = p->depth;
    n_in = pe_conv_elems(&in);
    n_out = pe_conv_elems(&out);
    PE_CHECK(n_in >= 0 && n_out >= 0 && units >= 1 && depth >= 1 && n_in % depth == 0, PE_ERR_SHAPE);
    PE_CHECK((int64_t)(n_in / depth) * units == n_out, PE_ERR_SHAPE);
    /* 16x8 with an int64 bias requantizes with pe_mbqm64 (as the generic kernel) */
    st = pe_conv_check_requant(&mult, &shift, units,
                               s16 && bias.index >= 0 && bias.dtype == PE_INT64 ? PE_CONV_SHIFT_MAX_64
                                                                               : PE_CONV_SHIFT_MAX_32);
    if (st != PE_OK) return st;
    st = pe_gemm_layout_check(&w, &mult, &shift, units, depth, ctx->op->layout);
    if (st != PE_OK) return st;
    st = s16 ? pe_gemm16_scratch_check(ctx, depth, (int32_t)(n_in / depth))
             : pe_gemm_scratch_check(ctx, depth, (int32_t)(n_in / depth));
    if (st != PE_OK) return st;
    PE_CHECK(in.dtype == PE_UINT8 ? fc_offsets_u8_ok(p)
                                  : pe_conv_offsets_ok(!s16, p->input_offset, p->output_offset, p->act_min,
                                                       p->act_max, out.dtype),
             PE_ERR_BAD_PARAMS);
    return PE_OK;
  }
  PE_CHECK(in.dtype == PE_INT8 || in.dtype == PE_INT16 || in.dtype == PE_UINT8, PE_ERR_SHAPE);
  PE_CHECK(out.dtype == in.dtype && w.dtype == (in.dtype == PE_UINT8 ? PE_UINT8 : PE_INT8), PE_ERR_SHAPE);
  PE_CHECK(in.rank >= 1 && w.rank == 2 && out.rank >= 1, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &in) && pe_conv_has_data(ctx, &w) && pe_conv_has_data(ctx, &bias) &&
               pe_conv_has_data(ctx, &out),
           PE_ERR_SHAPE);
  units = w.dims[0];
  depth = w.dims[1];
  PE_CHECK(p->depth == depth, PE_ERR_BAD_PARAMS);
  n_in = pe_conv_elems(&in);
  n_out = pe_conv_elems(&out);
  PE_CHECK(n_in >= 0 && n_out >= 0 && pe_conv_elems(&w) >= 0, PE_ERR_SHAPE);
  /* the input is read as [batches, depth] rows, the output written as [batches, units] */
  PE_CHECK(depth >= 1 && n_in % depth == 0, PE_ERR_SHAPE);
  PE_CHECK(out.dims[out.rank - 1] == units && (int64_t)(n_in / depth) * units == n_out, PE_ERR_SHAPE);
  if (bias.index >= 0) {
    PE_CHECK(is8 ? bias.dtype == PE_INT32 : (bias.dtype == PE_INT64 || bias.dtype == PE_INT32),
             PE_ERR_SHAPE);
    PE_CHECK(pe_conv_elems(&bias) == units, PE_ERR_SHAPE);
  }
  /* only 16x8 with an int64 bias requantizes with pe_mbqm64 */
  st = pe_conv_check_requant(&mult, &shift, units,
                             is8 || bias.index < 0 || bias.dtype == PE_INT32 ? PE_CONV_SHIFT_MAX_32
                                                                            : PE_CONV_SHIFT_MAX_64);
  if (st != PE_OK) return st;
  if (in.dtype == PE_UINT8) {
    PE_CHECK(fc_offsets_u8_ok(p), PE_ERR_BAD_PARAMS);
    return PE_OK;
  }
  PE_CHECK(p->filter_offset >= -127 && p->filter_offset <= 128, PE_ERR_BAD_PARAMS);
  PE_CHECK(pe_conv_offsets_ok(is8, p->input_offset, p->output_offset, p->act_min, p->act_max, out.dtype),
           PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* uint8: acc = sum_d (w[d] + filter_offset) * (x[d] + input_offset) mod 2^32, one unit at a time. */
static void fc_u8(const pe_fc_params *params, const uint8_t *in, const uint8_t *w, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, uint8_t *out, int32_t batches, int32_t units,
                  int32_t depth) {
  const pe_fc_params pl = *params, *p = &pl; /* a local copy: stores to out may alias *params */
  int32_t b, u, d;
  for (b = 0; b < batches; ++b, in += depth)
    for (u = 0; u < units; ++u) {
      const uint8_t *row = w + (size_t)u * depth;
      uint32_t acc = 0;
      for (d = 0; d < depth; ++d)
        acc += (uint32_t)(((int32_t)row[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset));
      *out++ = (uint8_t)pe_conv_requant32(acc, bias != NULL ? bias[u] : 0, mult[u], shift[u], p->output_offset,
                                          p->act_min, p->act_max);
    }
}

/* int8: acc = sum_d (w[d] + filter_offset) * (x[d] + input_offset), TFLite's int32 accumulator,
 * mod 2^32. Distributing the filter offset gives sum_d w[d] * (x[d] + input_offset) plus
 * filter_offset * sum_d (x[d] + input_offset), the same value mod 2^32; the second sum depends on
 * the batch row only. Units go four at a time, so that each input is loaded once for four rows. */
static void fc_s8(const pe_fc_params *params, const int8_t *in, const int8_t *w, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, int8_t *out, int32_t batches, int32_t units,
                  int32_t depth) {
  const pe_fc_params pl = *params, *p = &pl; /* a local copy: stores to out may alias *params */
  int32_t b, u, d, j;
  for (b = 0; b < batches; ++b, in += depth) {
    uint32_t x_sum = 0, acc[4];
    if (p->filter_offset != 0)
      for (d = 0; d < depth; ++d) x_sum += (uint32_t)((int32_t)in[d] + p->input_offset);
    for (u = 0; u < units;) {
      const int n = units - u >= 4 ? 4 : 1;
      acc[0] = acc[1] = acc[2] = acc[3] = 0;
      if (n == 4)
        pe_dot4_s8(in, w + u * depth, depth, depth, p->input_offset, acc);
      else
        acc[0] = pe_dot_s8(in, w + u * depth, depth, p->input_offset);
      for (j = 0; j < n; ++j, ++u) {
        const uint32_t sum = acc[j] + (uint32_t)p->filter_offset * x_sum;
        *out++ = (int8_t)pe_conv_requant32(sum, bias != NULL ? bias[u] : 0, mult[u], shift[u],
                                           p->output_offset, p->act_min, p->act_max);
      }
    }
  }
}

/* int16 activations: as TFLite, sum_d (w[d] + filter_offset) * x[d], exact in int64. With an
 * int64 bias TFLite accumulates in int64 and requantizes with the 64-bit multiplier; with an int32
 * bias or none, in int32 (wrapping) with the 32-bit one. */
static void fc_s16(const pe_fc_params *p, const int16_t *in, const int8_t *w, const pe_tensor *bias,
                   const int32_t *mult, const int32_t *shift, int16_t *out, int32_t batches, int32_t units,
                   int32_t depth) {
  int32_t b, u, d;
  for (b = 0; b < batches; ++b, in += depth)
    for (u = 0; u < units; ++u) {
      const int8_t *row = w + u * depth;
      int64_t acc = 0;
      int32_t v;
      for (d = 0; d < depth; ++d) acc += ((int32_t)row[d] + p->filter_offset) * (int32_t)in[d];
      if (bias->data != NULL && bias->dtype == PE_INT64) {
        v = pe_conv_requant64(acc, ((const int64_t *)bias->data)[u], mult[u], shift[u], p->act_min,
                              p->act_max);
      } else {
        const int32_t bv = bias->data != NULL ? ((const int32_t *)bias->data)[u] : 0;
        v = pe_conv_requant32(acc, bv, mult[u], shift[u], 0, p->act_min, p->act_max);
      }
      *out++ = (int16_t)v;
    }
}

pe_status pe_fully_connected__scalar(const pe_op_ctx *ctx) {
  const pe_fc_params *p = (const pe_fc_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, FC_INPUT), w = pe_input(ctx, FC_WEIGHTS);
  const pe_tensor bias = pe_input(ctx, FC_BIAS), out = pe_output(ctx, 0);
  const int32_t *mult = (const int32_t *)pe_input(ctx, FC_MULT).data;
  const int32_t *shift = (const int32_t *)pe_input(ctx, FC_SHIFT).data;
  const int32_t units = w.dims[0], depth = w.dims[1];
  const int32_t batches = pe_conv_elems(&in) / depth;
  if (in.dtype == PE_UINT8)
    fc_u8(p, (const uint8_t *)in.data, (const uint8_t *)w.data, (const int32_t *)bias.data, mult, shift,
          (uint8_t *)out.data, batches, units, depth);
  else if (in.dtype == PE_INT8)
    fc_s8(p, (const int8_t *)in.data, (const int8_t *)w.data, (const int32_t *)bias.data, mult, shift,
          (int8_t *)out.data, batches, units, depth);
  else
    fc_s16(p, (const int16_t *)in.data, (const int8_t *)w.data, &bias, mult, shift, (int16_t *)out.data,
           batches, units, depth);
  return PE_OK;
}

/* ---------------------------------------------------------------- BATCH_MATMUL */

/* Shapes of one BATCH_MATMUL with the batch dims extended to 3 (leading 1s). */
typedef struct {
  int32_t m, k, n;
  int32_t lb[3], rb[3], ob[3]; /* batch dims, outermost first */
} bmm_geom;

static bmm_geom bmm_geometry(const pe_batch_matmul_params *p, const pe_tensor *l, const pe_tensor *r,
                             const pe_tensor *o) {
  bmm_geom g;
  int32_t d;
  g.m = pe_dim_from_end(l, p->adj_x ? 0 : 1);
  g.k = pe_dim_from_end(l, p->adj_x ? 1 : 0);
  g.n = pe_dim_from_end(r, p->adj_y ? 1 : 0);
  for (d = 0; d < 3; ++d) {
    g.lb[d] = pe_dim_from_end(l, 4 - d);
    g.rb[d] = pe_dim_from_end(r, 4 - d);
    g.ob[d] = pe_dim_from_end(o, 4 - d);
  }
  return g;
}

pe_status pe_batch_matmul_check(const pe_op_ctx *ctx) {
  const pe_batch_matmul_params *p = (const pe_batch_matmul_params *)ctx->params;
  const pe_tensor l = pe_input(ctx, 0), r = pe_input(ctx, 1), o = pe_output(ctx, 0);
  const int is8 = l.dtype == PE_INT8;
  bmm_geom g;
  int32_t d;

  PE_CHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(l.index >= 0 && r.index >= 0 && o.index >= 0, PE_ERR_SHAPE);
  PE_CHECK(l.dtype == PE_INT8 || l.dtype == PE_INT16, PE_ERR_SHAPE);
  PE_CHECK(r.dtype == l.dtype && o.dtype == l.dtype, PE_ERR_SHAPE);
  PE_CHECK(l.rank >= 2 && l.rank <= 5 && r.rank >= 2 && r.rank <= 5, PE_ERR_SHAPE);
  PE_CHECK(o.rank == (l.rank > r.rank ? l.rank : r.rank), PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(&l) >= 0 && pe_conv_elems(&r) >= 0 && pe_conv_elems(&o) >= 0, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_has_data(ctx, &l) && pe_conv_has_data(ctx, &r) && pe_conv_has_data(ctx, &o),
           PE_ERR_SHAPE);
  PE_CHECK((p->adj_x == 0 || p->adj_x == 1) && (p->adj_y == 0 || p->adj_y == 1), PE_ERR_BAD_PARAMS);
  g = bmm_geometry(p, &l, &r, &o);
  PE_CHECK(pe_dim_from_end(&r, p->adj_y ? 0 : 1) == g.k, PE_ERR_SHAPE);
  PE_CHECK(pe_dim_from_end(&o, 1) == g.m && pe_dim_from_end(&o, 0) == g.n, PE_ERR_SHAPE);
  for (d = 0; d < 3; ++d) {
    /* batch dims broadcast: equal, or one of them 1 */
    PE_CHECK(g.lb[d] == g.rb[d] || g.lb[d] == 1 || g.rb[d] == 1, PE_ERR_SHAPE);
    PE_CHECK(g.ob[d] == (g.lb[d] == 1 ? g.rb[d] : g.lb[d]), PE_ERR_SHAPE);
  }
  PE_CHECK(p->output_multiplier >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->output_shift >= PE_CONV_SHIFT_MIN &&
               p->output_shift <= (is8 ? PE_CONV_SHIFT_MAX_32 : PE_CONV_SHIFT_MAX_64),
           PE_ERR_BAD_PARAMS);
  if (is8) {
    PE_CHECK(p->lhs_offset >= -127 && p->lhs_offset <= 128, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->rhs_offset >= -127 && p->rhs_offset <= 128, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->output_offset >= -128 && p->output_offset <= 127, PE_ERR_BAD_PARAMS);
  } else {
    PE_CHECK(p->lhs_offset == 0 && p->rhs_offset == 0 && p->output_offset == 0, PE_ERR_BAD_PARAMS);
  }
  PE_CHECK(pe_conv_act_ok(p->act_min, p->act_max, o.dtype), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* Element (i, j) of a stored matrix with `cols` columns, or of its transpose when `adj`. */
static int32_t mat_at(const void *data, int32_t dtype, int32_t base, int32_t rows, int32_t cols, int adj,
                      int32_t i, int32_t j) {
  const int32_t at = base + (adj ? j * rows + i : i * cols + j);
  return dtype == PE_INT8 ? ((const int8_t *)data)[at] : ((const int16_t *)data)[at];
}

pe_status pe_batch_matmul__scalar(const pe_op_ctx *ctx) {
  const pe_batch_matmul_params *p = (const pe_batch_matmul_params *)ctx->params;
  const pe_tensor l = pe_input(ctx, 0), r = pe_input(ctx, 1), o = pe_output(ctx, 0);
  const bmm_geom g = bmm_geometry(p, &l, &r, &o);
  int32_t lstride[3], rstride[3], d, b0, b1, b2, i, j, k;
  /* batch strides in elements; 0 along a broadcast (size-1) dim so the one matrix is reused */
  int32_t ls = g.m * g.k, rs = g.k * g.n;
  for (d = 2; d >= 0; --d) {
    lstride[d] = g.lb[d] == 1 ? 0 : ls;
    rstride[d] = g.rb[d] == 1 ? 0 : rs;
    ls *= g.lb[d];
    rs *= g.rb[d];
  }
  for (b0 = 0; b0 < g.ob[0]; ++b0)
    for (b1 = 0; b1 < g.ob[1]; ++b1)
      for (b2 = 0; b2 < g.ob[2]; ++b2) {
        const int32_t lbase = b0 * lstride[0] + b1 * lstride[1] + b2 * lstride[2];
        const int32_t rbase = b0 * rstride[0] + b1 * rstride[1] + b2 * rstride[2];
        const int32_t obase = ((b0 * g.ob[1] + b1) * g.ob[2] + b2) * g.m * g.n;
        for (i = 0; i < g.m; ++i)
          for (j = 0; j < g.n; ++j) {
            /* lhs is [m, k] (stored [k, m] if adj_x), rhs is [k, n] (stored [n, k] if adj_y) */
            int64_t acc = 0;
            for (k = 0; k < g.k; ++k)
              acc += (int64_t)(mat_at(l.data, l.dtype, lbase, g.m, g.k, p->adj_x, i, k) + p->lhs_offset) *
                     (mat_at(r.data, r.dtype, rbase, g.k, g.n, p->adj_y, k, j) + p->rhs_offset);
            if (o.dtype == PE_INT8)
              ((int8_t *)o.data)[obase + i * g.n + j] = (int8_t)pe_conv_requant32(
                  acc, 0, p->output_multiplier, p->output_shift, p->output_offset, p->act_min, p->act_max);
            else
              ((int16_t *)o.data)[obase + i * g.n + j] = (int16_t)pe_conv_requant64(
                  acc, 0, p->output_multiplier, p->output_shift, p->act_min, p->act_max);
          }
      }
  return PE_OK;
}
