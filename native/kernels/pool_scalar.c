/* Pooling, reductions, arg-min/max and resizing, as TFLite's reference kernels compute them:
 *   AVERAGE_POOL_2D / MAX_POOL_2D  reference_integer_ops::AveragePool / MaxPool
 *   MEAN / SUM                     reduce.cc (reference_ops::Mean, QuantizedMeanOrSum,
 *                                  ReduceGeneric)
 *   ARG_MAX / ARG_MIN              reference_ops::ArgMinMax
 *   RESIZE_NEAREST_NEIGHBOR        reference_ops::ResizeNearestNeighbor
 *   RESIZE_BILINEAR                reference_ops::ResizeBilinearInteger (int8, int16),
 *                                  reference_ops::ResizeBilinear<uint8_t> (uint8, float32 math)
 */
#include "pool.h"

/* ---------------------------------------------------------------------------------------
 * Element access and TFLite's scalar conversions.
 * ------------------------------------------------------------------------------------ */

static int is_small_int(int32_t dtype) {
  return dtype == PE_INT8 || dtype == PE_UINT8 || dtype == PE_INT16;
}

/* C++ static_cast<T>(v) for an int32 v out of T's range: two's-complement truncation. */
static int32_t wrap_to(int32_t dtype, uint32_t v) {
  switch (dtype) {
    case PE_INT8: v &= 0xFFu; return v >= 0x80u ? (int32_t)v - 0x100 : (int32_t)v;
    case PE_UINT8: return (int32_t)(v & 0xFFu);
    case PE_INT16: v &= 0xFFFFu; return v >= 0x8000u ? (int32_t)v - 0x10000 : (int32_t)v;
    default: return v >= 0x80000000u ? (int32_t)(v - 0x80000000u) + INT32_MIN : (int32_t)v;
  }
}

/* The input's element count fits int32 (all loops index with int32). */
static int small_enough(const pe_tensor *t) { return t->bytes <= (uint32_t)INT32_MAX; }

/* ---------------------------------------------------------------------------------------
 * AVERAGE_POOL_2D, MAX_POOL_2D
 * ------------------------------------------------------------------------------------ */

/* Window [start, end) along one spatial axis, clipped to the input as TFLite does. */
static void pool_window(int32_t out_i, int32_t stride, int32_t pad, int32_t filter, int32_t in_size,
                        int32_t *origin, int32_t *start, int32_t *end) {
  *origin = out_i * stride - pad;
  *start = *origin < 0 ? -*origin : 0;
  *end = filter < in_size - *origin ? filter : in_size - *origin;
}

static pe_status pool_check(const pe_op_ctx *ctx, int average) {
  const pe_pool_params *p = (const pe_pool_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int64_t window;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(in.rank == 4 && out.rank == 4 && small_enough(&in) && small_enough(&out), PE_ERR_SHAPE);
  PE_CHECK(is_small_int(in.dtype) && out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(out.dims[0] == in.dims[0] && out.dims[3] == in.dims[3], PE_ERR_SHAPE);
  PE_CHECK(p->stride_h >= 1 && p->stride_w >= 1 && p->filter_h >= 1 && p->filter_w >= 1,
           PE_ERR_BAD_PARAMS);
  /* TFLite's padding is always smaller than the filter; it keeps the window arithmetic in range */
  PE_CHECK(p->pad_h >= 0 && p->pad_h < p->filter_h && p->pad_w >= 0 && p->pad_w < p->filter_w,
           PE_ERR_BAD_PARAMS);
  PE_CHECK((int64_t)out.dims[1] * p->stride_h + p->filter_h <= INT32_MAX / 2 &&
               (int64_t)out.dims[2] * p->stride_w + p->filter_w <= INT32_MAX / 2,
           PE_ERR_BAD_PARAMS);
  /* every window overlaps the input, so no average divides by zero */
  PE_CHECK(out.dims[1] == 0 || (int64_t)(out.dims[1] - 1) * p->stride_h - p->pad_h < in.dims[1],
           PE_ERR_SHAPE);
  PE_CHECK(out.dims[2] == 0 || (int64_t)(out.dims[2] - 1) * p->stride_w - p->pad_w < in.dims[2],
           PE_ERR_SHAPE);
  PE_CHECK(pe_int_min(in.dtype) <= p->act_min && p->act_min <= p->act_max &&
               p->act_max <= pe_int_max(in.dtype),
           PE_ERR_BAD_PARAMS);
  if (average) {
    /* the int32 window sum cannot overflow: |sum| <= count * 2^15 */
    window = (int64_t)(p->filter_h < in.dims[1] ? p->filter_h : in.dims[1]) *
             (p->filter_w < in.dims[2] ? p->filter_w : in.dims[2]);
    PE_CHECK(window <= 65536, PE_ERR_BAD_PARAMS);
  }
  return PE_OK;
}

/* Channels per pass: one window's sums (or maxima) for a block of channels sit in a small array,
   the window's pixels added to it one run of channels at a time (loops the compiler vectorizes). */
#define POOL_CB 64

/* acc[i] (op)= s[i] for the n channels of one input pixel */
#define POOL_RUN(T)                                                        \
  do {                                                                     \
    const T *s = (const T *)in.data + base;                                \
    if (average)                                                           \
      for (i = 0; i < n; ++i) acc[i] += s[i];                              \
    else                                                                   \
      for (i = 0; i < n; ++i) acc[i] = s[i] > acc[i] ? s[i] : acc[i];      \
  } while (0)

static pe_status pool_eval(const pe_op_ctx *ctx, int average) {
  const pe_pool_params *p = (const pe_pool_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t batches = in.dims[0], in_h = in.dims[1], in_w = in.dims[2], depth = in.dims[3];
  const int32_t out_h = out.dims[1], out_w = out.dims[2];
  const int32_t lo = average ? 0 : pe_int_min(in.dtype);
  int32_t acc[POOL_CB];
  int32_t b, oy, ox, c0, fy, fx, i;
  for (b = 0; b < batches; ++b) {
    for (oy = 0; oy < out_h; ++oy) {
      int32_t y_origin, fy_start, fy_end;
      pool_window(oy, p->stride_h, p->pad_h, p->filter_h, in_h, &y_origin, &fy_start, &fy_end);
      for (ox = 0; ox < out_w; ++ox) {
        int32_t x_origin, fx_start, fx_end, count;
        pool_window(ox, p->stride_w, p->pad_w, p->filter_w, in_w, &x_origin, &fx_start, &fx_end);
        count = (fy_end - fy_start) * (fx_end - fx_start);
        for (c0 = 0; c0 < depth; c0 += POOL_CB) {
          const int32_t n = depth - c0 < POOL_CB ? depth - c0 : POOL_CB;
          const int32_t obase = ((b * out_h + oy) * out_w + ox) * depth + c0;
          for (i = 0; i < n; ++i) acc[i] = lo;
          for (fy = fy_start; fy < fy_end; ++fy) {
            for (fx = fx_start; fx < fx_end; ++fx) {
              const int32_t base = ((b * in_h + y_origin + fy) * in_w + x_origin + fx) * depth + c0;
              switch (in.dtype) {
                case PE_INT8: POOL_RUN(int8_t); break;
                case PE_UINT8: POOL_RUN(uint8_t); break;
                default: POOL_RUN(int16_t); break;
              }
            }
          }
          for (i = 0; i < n; ++i) {
            int32_t v = acc[i];
            /* round half away from zero (division truncates) */
            if (average) v = v > 0 ? (v + count / 2) / count : (v - count / 2) / count;
            pe_store_int(out.data, out.dtype, obase + i, pe_clamp(v, p->act_min, p->act_max));
          }
        }
      }
    }
  }
  return PE_OK;
}
#undef POOL_RUN

pe_status pe_average_pool_2d_check(const pe_op_ctx *ctx) { return pool_check(ctx, 1); }
pe_status pe_average_pool_2d__scalar(const pe_op_ctx *ctx) { return pool_eval(ctx, 1); }
pe_status pe_max_pool_2d_check(const pe_op_ctx *ctx) { return pool_check(ctx, 0); }
pe_status pe_max_pool_2d__scalar(const pe_op_ctx *ctx) { return pool_eval(ctx, 0); }

/* ---------------------------------------------------------------------------------------
 * MEAN, SUM
 * ------------------------------------------------------------------------------------ */

/* The input's dims split into kept ones (outermost first, in output order) and reduced ones,
   each with its row-major input stride. */
typedef struct {
  int32_t n_keep, n_red;
  int32_t keep_dim[PE_MAX_RANK], keep_stride[PE_MAX_RANK];
  int32_t red_dim[PE_MAX_RANK], red_stride[PE_MAX_RANK];
  int32_t count; /* input elements summed into each output */
} reduce_plan;

static void plan_reduce(const pe_tensor *in, int32_t axis_mask, reduce_plan *pl) {
  int32_t d, stride = 1, nk = 0, nr = 0;
  int32_t stride_of[PE_MAX_RANK];
  for (d = in->rank - 1; d >= 0; --d) {
    stride_of[d] = stride;
    stride *= in->dims[d];
  }
  pl->count = 1;
  for (d = 0; d < in->rank; ++d) {
    if (axis_mask & (1 << d)) {
      pl->red_dim[nr] = in->dims[d];
      pl->red_stride[nr++] = stride_of[d];
      pl->count *= in->dims[d];
    } else {
      pl->keep_dim[nk] = in->dims[d];
      pl->keep_stride[nk++] = stride_of[d];
    }
  }
  pl->n_keep = nk;
  pl->n_red = nr;
}

/* Advance a multi-index over dims[0..n), last fastest; returns 0 once it wraps around. */
static int next_index(int32_t *idx, const int32_t *dims, int32_t n) {
  int32_t d;
  for (d = n - 1; d >= 0; --d) {
    if (++idx[d] < dims[d]) return 1;
    idx[d] = 0;
  }
  return 0;
}

static int32_t offset_of(const int32_t *idx, const int32_t *stride, int32_t n) {
  int32_t d, off = 0;
  for (d = 0; d < n; ++d) off += idx[d] * stride[d];
  return off;
}

/* Sum of the reduced elements of the output whose first element is at `base`, exact in int64. */
static int64_t reduced_sum(const pe_tensor *in, const reduce_plan *pl, int32_t base) {
  int32_t idx[PE_MAX_RANK] = {0, 0, 0, 0, 0, 0};
  int64_t acc = 0;
  do {
    acc += pe_load_int(in->data, in->dtype, base + offset_of(idx, pl->red_stride, pl->n_red));
  } while (next_index(idx, pl->red_dim, pl->n_red));
  return acc;
}

static pe_status reduce_check(const pe_op_ctx *ctx, int is_mean) {
  const pe_reduce_params *p = (const pe_reduce_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t d, k = 0, n_reduced = 0;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(in.dtype == out.dtype && small_enough(&in), PE_ERR_SHAPE);
  PE_CHECK(p->axis_mask >= 0 && p->axis_mask < (1 << in.rank) && (p->keep_dims == 0 || p->keep_dims == 1),
           PE_ERR_BAD_PARAMS);
  /* every reduction has at least one element (TFLite special-cases empty inputs) */
  for (d = 0; d < in.rank; ++d) PE_CHECK(in.dims[d] > 0, PE_ERR_SHAPE);
  /* output shape: reduced dims become 1 or disappear */
  for (d = 0; d < in.rank; ++d) n_reduced += (p->axis_mask >> d) & 1;
  PE_CHECK(out.rank == (p->keep_dims ? in.rank : in.rank - n_reduced) && small_enough(&out), PE_ERR_SHAPE);
  for (d = 0; d < in.rank; ++d) {
    if (p->axis_mask & (1 << d)) {
      if (p->keep_dims) PE_CHECK(out.dims[k++] == 1, PE_ERR_SHAPE);
    } else {
      PE_CHECK(out.dims[k++] == in.dims[d], PE_ERR_SHAPE);
    }
  }
  switch (p->mode) {
    case PE_REDUCE_PLAIN:
      /* MEAN of int32; SUM of int16 and int32 */
      PE_CHECK(in.dtype == PE_INT32 || (!is_mean && in.dtype == PE_INT16), PE_ERR_SHAPE);
      break;
    case PE_REDUCE_QUANTIZED:
      /* MEAN of int8, uint8 and int16; SUM of int8 and uint8 */
      PE_CHECK(is_mean ? (in.dtype == PE_INT8 || in.dtype == PE_UINT8 || in.dtype == PE_INT16)
                       : (in.dtype == PE_INT8 || in.dtype == PE_UINT8),
               PE_ERR_SHAPE);
      PE_CHECK(p->multiplier >= 0 && p->shift >= -31 && p->shift <= 30, PE_ERR_BAD_PARAMS);
      break;
    default: return PE_ERR_BAD_PARAMS;
  }
  return PE_OK;
}

/* floor(log2(n)) for n >= 1 */
static int32_t floor_log2(int32_t n) {
  int32_t r = 0;
  while (n > 1) {
    n >>= 1;
    r++;
  }
  return r;
}

/* QuantizedMeanOrSum folds 1/count into the multiplier: shift it up by floor(log2(count)) bits
   (TFLite also caps this at 32, which an int32 count never reaches) keeping the final shift
   >= -31, then divide by count, truncating. */
static void mean_multiplier(int32_t count, int32_t *multiplier, int32_t *shift) {
  int32_t extra = floor_log2(count);
  if (extra > 31 + *shift) extra = 31 + *shift;
  *multiplier = (int32_t)((((int64_t)*multiplier) << extra) / count);
  *shift -= extra;
}

/* (sum - in_zp * count) * multiplier + out_zp, in wrapping int32 as TFLite's int32 math. */
static int32_t quantized_result(uint32_t sum, int32_t count, const pe_tensor *in, const pe_tensor *out,
                                int32_t multiplier, int32_t shift) {
  const int32_t shifted = wrap_to(PE_INT32, sum - (uint32_t)in->zero_point * (uint32_t)count);
  const uint32_t scaled = (uint32_t)pe_mbqm(shifted, multiplier, shift);
  return pe_clamp(wrap_to(PE_INT32, scaled + (uint32_t)out->zero_point), pe_int_min(out->dtype),
                  pe_int_max(out->dtype));
}

static pe_status reduce_eval(const pe_op_ctx *ctx, int is_mean) {
  const pe_reduce_params *p = (const pe_reduce_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t keep_idx[PE_MAX_RANK] = {0, 0, 0, 0, 0, 0};
  int32_t o = 0, multiplier = p->multiplier, shift = p->shift;
  reduce_plan pl;
  /* int8 SUM sums and clamps int8 values, as TFLite Micro and newer LiteRT do; TFLite 2.14's
     reference kernel runs QuantizedMeanOrSum<uint8_t> on int8 bytes, a bug (docs/oracles.md). */
  plan_reduce(&in, p->axis_mask, &pl);
  if (p->mode == PE_REDUCE_QUANTIZED && is_mean) mean_multiplier(pl.count, &multiplier, &shift);
  do {
    const int32_t base = offset_of(keep_idx, pl.keep_stride, pl.n_keep);
    /* sums wrap like TFLite's accumulators (int32 temp_sum; int64 for int32 MEAN) */
    const int64_t sum = reduced_sum(&in, &pl, base);
    int32_t result;
    if (p->mode == PE_REDUCE_QUANTIZED) {
      result = quantized_result((uint32_t)sum, pl.count, &in, &out, multiplier, shift);
    } else if (is_mean) {
      result = (int32_t)(sum / pl.count); /* int32 input: int64 sum, truncating division */
    } else {
      result = wrap_to(out.dtype, (uint32_t)sum); /* added in the element type itself */
    }
    pe_store_int(out.data, out.dtype, o++, result);
  } while (next_index(keep_idx, pl.keep_dim, pl.n_keep));
  return PE_OK;
}

/* int8 MEAN over one contiguous run of axes (MobileNet's global average pool: axes 1, 2 of
   NHWC): the input as [outer][red][inner], summed a block of inner elements at a time in int32
   (wrapping as the reference's sums do) by the variant's row-sum microkernel (qs8_rowsum.h), so
   the loop runs along memory. The same arithmetic as reduce_eval. */
int pe_mean__rows_accepts(const pe_op_ctx *ctx) {
  const pe_reduce_params *p = (const pe_reduce_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0);
  int32_t d, first = -1, last = -1;
  if (p->mode != PE_REDUCE_QUANTIZED || in.dtype != PE_INT8) return 0;
  for (d = 0; d < in.rank; ++d)
    if (p->axis_mask >> d & 1) {
      if (first < 0) first = d;
      else if (last != d - 1) return 0; /* not one contiguous run of axes */
      last = d;
    }
  return first >= 0;
}

#define MEAN_BLOCK 256

pe_status pe_mean__rows(const pe_op_ctx *ctx) {
  const pe_reduce_params *p = (const pe_reduce_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const pe_qs8_rowsum_fn fn = ((const pe_qs8_rowsum_ukernel *)ctx->variant->ukernel)->fn;
  const int8_t *x = (const int8_t *)in.data;
  int8_t *y = (int8_t *)out.data;
  int32_t d, outer = 1, red = 1, inner = 1, multiplier = p->multiplier, shift = p->shift, seen = 0;
  int32_t o, i0, i, n;
  int32_t acc[MEAN_BLOCK];
  for (d = 0; d < in.rank; ++d) {
    if (p->axis_mask >> d & 1) {
      red *= in.dims[d];
      seen = 1;
    } else if (seen) {
      inner *= in.dims[d];
    } else {
      outer *= in.dims[d];
    }
  }
  mean_multiplier(red, &multiplier, &shift);
  for (o = 0; o < outer; ++o)
    for (i0 = 0; i0 < inner; i0 += MEAN_BLOCK) {
      n = inner - i0 < MEAN_BLOCK ? inner - i0 : MEAN_BLOCK;
      for (i = 0; i < n; ++i) acc[i] = 0;
      fn((size_t)red, (size_t)n, x + (size_t)o * red * inner + i0, (size_t)inner, acc);
      for (i = 0; i < n; ++i)
        y[(size_t)o * inner + i0 + i] = (int8_t)quantized_result((uint32_t)acc[i], red, &in, &out, multiplier, shift);
    }
  return PE_OK;
}

const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum__scalar = {pe_qs8_rowsum__scalar};
#if PE_X86_KERNELS
const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum_32x__avx2 = {pe_qs8_rowsum_32x__avx2};
const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum_64x__avx512 = {pe_qs8_rowsum_64x__avx512};
#endif
#if PE_NEON_KERNELS
const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum_16x__neon = {pe_qs8_rowsum_16x__neon};
#endif

pe_status pe_mean_check(const pe_op_ctx *ctx) { return reduce_check(ctx, 1); }
pe_status pe_mean__scalar(const pe_op_ctx *ctx) { return reduce_eval(ctx, 1); }
pe_status pe_sum_check(const pe_op_ctx *ctx) { return reduce_check(ctx, 0); }
pe_status pe_sum__scalar(const pe_op_ctx *ctx) { return reduce_eval(ctx, 0); }

/* ---------------------------------------------------------------------------------------
 * ARG_MAX, ARG_MIN
 * ------------------------------------------------------------------------------------ */

/* Element i as double: exact for every supported input type, and order-preserving. */
static double load_as_double(const pe_tensor *t, int32_t i) {
  if (t->dtype == PE_FLOAT32) return ((const float *)t->data)[i];
  return pe_load_int(t->data, t->dtype, i);
}

static pe_status arg_check(const pe_op_ctx *ctx) {
  const pe_arg_params *p = (const pe_arg_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t d, k = 0;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(is_small_int(in.dtype) || in.dtype == PE_INT32 || in.dtype == PE_FLOAT32, PE_ERR_SHAPE);
  PE_CHECK(out.dtype == PE_INT32 || out.dtype == PE_INT64, PE_ERR_SHAPE);
  PE_CHECK(in.rank >= 1 && small_enough(&in) && small_enough(&out), PE_ERR_SHAPE);
  PE_CHECK(p->axis >= 0 && p->axis < in.rank, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.dims[p->axis] >= 1, PE_ERR_SHAPE);
  PE_CHECK(out.rank == in.rank - 1, PE_ERR_SHAPE);
  for (d = 0; d < in.rank; ++d)
    if (d != p->axis) PE_CHECK(out.dims[k++] == in.dims[d], PE_ERR_SHAPE);
  return PE_OK;
}

static pe_status arg_eval(const pe_op_ctx *ctx, int is_max) {
  const pe_arg_params *p = (const pe_arg_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t d, outer = 1, inner = 1, o, i, k;
  const int32_t axis_size = in.dims[p->axis];
  for (d = 0; d < p->axis; ++d) outer *= in.dims[d];
  for (d = p->axis + 1; d < in.rank; ++d) inner *= in.dims[d];
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      double best = load_as_double(&in, o * axis_size * inner + i);
      int32_t best_k = 0;
      for (k = 1; k < axis_size; ++k) {
        const double v = load_as_double(&in, (o * axis_size + k) * inner + i);
        /* strict comparison: ties keep the first index */
        if (is_max ? v > best : v < best) {
          best = v;
          best_k = k;
        }
      }
      if (out.dtype == PE_INT64) ((int64_t *)out.data)[o * inner + i] = best_k;
      else ((int32_t *)out.data)[o * inner + i] = best_k;
    }
  }
  return PE_OK;
}

pe_status pe_arg_max_check(const pe_op_ctx *ctx) { return arg_check(ctx); }
pe_status pe_arg_max__scalar(const pe_op_ctx *ctx) { return arg_eval(ctx, 1); }
pe_status pe_arg_min_check(const pe_op_ctx *ctx) { return arg_check(ctx); }
pe_status pe_arg_min__scalar(const pe_op_ctx *ctx) { return arg_eval(ctx, 0); }

/* ---------------------------------------------------------------------------------------
 * RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR
 * ------------------------------------------------------------------------------------ */

/* Sizes up to 2^16 keep the bilinear fixed-point arithmetic (1 << 10) * size in int32. */
#define PE_RESIZE_MAX_SIZE 65536

static pe_status resize_check_common(const pe_op_ctx *ctx) {
  const pe_resize_params *p = (const pe_resize_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(in.rank == 4 && out.rank == 4 && out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(small_enough(&in) && small_enough(&out), PE_ERR_SHAPE);
  PE_CHECK(out.dims[0] == in.dims[0] && out.dims[3] == in.dims[3], PE_ERR_SHAPE);
  PE_CHECK(in.dims[1] >= 1 && in.dims[2] >= 1 && out.dims[1] >= 1 && out.dims[2] >= 1, PE_ERR_SHAPE);
  PE_CHECK(in.dims[1] <= PE_RESIZE_MAX_SIZE && in.dims[2] <= PE_RESIZE_MAX_SIZE &&
               out.dims[1] <= PE_RESIZE_MAX_SIZE && out.dims[2] <= PE_RESIZE_MAX_SIZE,
           PE_ERR_SHAPE);
  PE_CHECK((p->align_corners == 0 || p->align_corners == 1) &&
               (p->half_pixel_centers == 0 || p->half_pixel_centers == 1),
           PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* floor(x) for x >= 0 (truncation), std::round(x) for x >= 0 (halves up). */
static int32_t floor_nonneg(float x) { return (int32_t)x; }
static int32_t round_nonneg(float x) {
  const int32_t t = (int32_t)x;
  return x - (float)t >= 0.5f ? t + 1 : t;
}

/* reference_ops GetNearestNeighbor: the input index an output index samples, in float32. */
static int32_t nearest_index(int32_t out_i, int32_t in_size, int32_t out_size, int align_corners,
                             int half_pixel_centers) {
  const float scale = (align_corners && out_size > 1) ? (float)(in_size - 1) / (float)(out_size - 1)
                                                      : (float)in_size / (float)out_size;
  const float offset = half_pixel_centers ? 0.5f : 0.0f;
  const float x = ((float)out_i + offset) * scale; /* >= 0 */
  int32_t v = align_corners ? round_nonneg(x) : floor_nonneg(x);
  if (v > in_size - 1) v = in_size - 1;
  return v; /* x >= 0 makes TFLite's max(0, v) for half_pixel_centers a no-op */
}

pe_status pe_resize_nearest_neighbor_check(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0);
  PE_CHECK(in.dtype == PE_INT8 || in.dtype == PE_UINT8 || in.dtype == PE_INT16 || in.dtype == PE_FLOAT32,
           PE_ERR_SHAPE);
  return resize_check_common(ctx);
}

pe_status pe_resize_nearest_neighbor__scalar(const pe_op_ctx *ctx) {
  const pe_resize_params *p = (const pe_resize_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t batches = in.dims[0], in_h = in.dims[1], in_w = in.dims[2], depth = in.dims[3];
  const int32_t out_h = out.dims[1], out_w = out.dims[2];
  const uint32_t pixel = (uint32_t)depth * pe_dtype_size((uint32_t)in.dtype); /* bytes */
  const uint8_t *src = (const uint8_t *)in.data;
  uint8_t *dst = (uint8_t *)out.data;
  int32_t b, y, x;
  for (b = 0; b < batches; ++b) {
    for (y = 0; y < out_h; ++y) {
      const int32_t in_y = nearest_index(y, in_h, out_h, p->align_corners, p->half_pixel_centers);
      for (x = 0; x < out_w; ++x) {
        const int32_t in_x = nearest_index(x, in_w, out_w, p->align_corners, p->half_pixel_centers);
        memcpy(dst, src + ((uint32_t)(b * in_h + in_y) * (uint32_t)in_w + (uint32_t)in_x) * pixel, pixel);
        dst += pixel;
      }
    }
  }
  return PE_OK;
}

/* Fixed-point (10 fractional bits) scale of one axis, rounded. */
static int32_t bilinear_scale_10(int32_t in_size, int32_t out_size, int align_corners) {
  if (align_corners && out_size > 1)
    return ((1 << 10) * (in_size - 1) + (out_size - 1) / 2) / (out_size - 1);
  return ((1 << 10) * in_size + out_size / 2) / out_size;
}

/* Source coordinate (10 fractional bits) of output index i and its two neighbours. */
static void bilinear_coords(int32_t i, int32_t scale_10, int half_pixel_centers, int32_t in_size,
                            int32_t *pos, int32_t *lo, int32_t *hi) {
  *pos = half_pixel_centers ? i * scale_10 + scale_10 / 2 - (1 << 9) : i * scale_10;
  /* divisions truncate toward zero, as in TFLite */
  *lo = *pos / (1 << 10) > 0 ? *pos / (1 << 10) : 0;
  *hi = (*pos + (1 << 10) - 1) / (1 << 10) < in_size - 1 ? (*pos + (1 << 10) - 1) / (1 << 10) : in_size - 1;
}

pe_status pe_resize_bilinear_check(const pe_op_ctx *ctx) {
  const pe_resize_params *p = (const pe_resize_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t axis, i;
  pe_status st = resize_check_common(ctx);
  if (st != PE_OK) return st;
  PE_CHECK(in.dtype == PE_INT8 || in.dtype == PE_INT16 || in.dtype == PE_UINT8, PE_ERR_SHAPE);
  PE_CHECK(!(p->align_corners && p->half_pixel_centers), PE_ERR_BAD_PARAMS);
  if (in.dtype == PE_UINT8) return PE_OK; /* float coordinates, clamped into the input */
  /* the lower neighbour of every output lies inside the input */
  for (axis = 1; axis <= 2; ++axis) {
    const int32_t scale_10 = bilinear_scale_10(in.dims[axis], out.dims[axis], p->align_corners);
    for (i = 0; i < out.dims[axis]; ++i) {
      int32_t pos, lo, hi;
      bilinear_coords(i, scale_10, p->half_pixel_centers, in.dims[axis], &pos, &lo, &hi);
      PE_CHECK(lo < in.dims[axis], PE_ERR_SHAPE);
    }
  }
  return PE_OK;
}

/* uint8 RESIZE_BILINEAR is TFLite's reference_ops::ResizeBilinear<uint8_t>, in float32: the same
 * scales, coordinates and expression order (products left to right, sums left to right, + 0.5,
 * then truncation), compiled without contraction into fused multiply-adds (C99 mode). */
static float bilinear_scale_f(int32_t in_size, int32_t out_size, int align_corners) {
  if (align_corners && out_size > 1) return (float)(in_size - 1) / (float)(out_size - 1);
  return (float)in_size / (float)out_size;
}

static void bilinear_coords_f(int32_t i, float scale, int half_pixel_centers, int32_t in_size, float *pos,
                              int32_t *lo, int32_t *hi) {
  int32_t l, h;
  *pos = half_pixel_centers ? ((float)i + 0.5f) * scale - 0.5f : (float)i * scale;
  /* floor and ceil of a value in (-1, in_size], without libm */
  l = (int32_t)*pos;
  if ((float)l > *pos) --l;
  h = (int32_t)*pos;
  if ((float)h < *pos) ++h;
  *lo = l > 0 ? l : 0;
  *hi = h < in_size - 1 ? h : in_size - 1;
  if (*lo > in_size - 1) *lo = in_size - 1; /* never taken by a valid op; keeps reads inside */
  if (*hi < 0) *hi = 0;
}

static void resize_bilinear_u8(const pe_resize_params *p, const pe_tensor *in, const pe_tensor *out) {
  const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2], depth = in->dims[3];
  const int32_t out_h = out->dims[1], out_w = out->dims[2];
  const float scale_y = bilinear_scale_f(in_h, out_h, p->align_corners);
  const float scale_x = bilinear_scale_f(in_w, out_w, p->align_corners);
  const uint8_t *src = (const uint8_t *)in->data;
  uint8_t *dst = (uint8_t *)out->data;
  int32_t b, y, x, c;
  for (b = 0; b < batches; ++b)
    for (y = 0; y < out_h; ++y) {
      float in_y;
      int32_t y0, y1;
      bilinear_coords_f(y, scale_y, p->half_pixel_centers, in_h, &in_y, &y0, &y1);
      for (x = 0; x < out_w; ++x) {
        float in_x;
        int32_t x0, x1;
        const float dy = in_y - (float)y0;
        float dx;
        bilinear_coords_f(x, scale_x, p->half_pixel_centers, in_w, &in_x, &x0, &x1);
        dx = in_x - (float)x0;
        {
          const uint8_t *p00 = src + ((size_t)(b * in_h + y0) * in_w + x0) * depth;
          const uint8_t *p10 = src + ((size_t)(b * in_h + y1) * in_w + x0) * depth;
          const uint8_t *p01 = src + ((size_t)(b * in_h + y0) * in_w + x1) * depth;
          const uint8_t *p11 = src + ((size_t)(b * in_h + y1) * in_w + x1) * depth;
          uint8_t *o = dst + ((size_t)(b * out_h + y) * out_w + x) * depth;
          for (c = 0; c < depth; ++c) {
            const float v = (float)p00[c] * (1 - dy) * (1 - dx) + (float)p10[c] * dy * (1 - dx) +
                            (float)p01[c] * (1 - dy) * dx + (float)p11[c] * dy * dx + 0.5f;
            o[c] = (uint8_t)v;
          }
        }
      }
    }
}

pe_status pe_resize_bilinear__scalar(const pe_op_ctx *ctx) {
  const pe_resize_params *p = (const pe_resize_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  if (in.dtype == PE_UINT8) {
    resize_bilinear_u8(p, &in, &out);
    return PE_OK;
  }
  const int32_t batches = in.dims[0], in_h = in.dims[1], in_w = in.dims[2], depth = in.dims[3];
  const int32_t out_h = out.dims[1], out_w = out.dims[2];
  const int32_t scale_y = bilinear_scale_10(in_h, out_h, p->align_corners);
  const int32_t scale_x = bilinear_scale_10(in_w, out_w, p->align_corners);
  const int64_t one = 1 << 10;
  int32_t b, y, x, c;
  for (b = 0; b < batches; ++b) {
    for (y = 0; y < out_h; ++y) {
      int32_t in_y, y0, y1;
      bilinear_coords(y, scale_y, p->half_pixel_centers, in_h, &in_y, &y0, &y1);
      for (x = 0; x < out_w; ++x) {
        int32_t in_x, x0, x1;
        bilinear_coords(x, scale_x, p->half_pixel_centers, in_w, &in_x, &x0, &x1);
        {
          /* weights of the upper/right neighbours (10 bits); may fall outside [0, 1024] at
             the borders with half_pixel_centers, where both neighbours are the same pixel */
          const int64_t wy = in_y - (1 << 10) * y0, wx = in_x - (1 << 10) * x0;
          const int32_t r00 = ((b * in_h + y0) * in_w + x0) * depth, r01 = ((b * in_h + y0) * in_w + x1) * depth;
          const int32_t r10 = ((b * in_h + y1) * in_w + x0) * depth, r11 = ((b * in_h + y1) * in_w + x1) * depth;
          const int32_t o = ((b * out_h + y) * out_w + x) * depth;
          for (c = 0; c < depth; ++c) {
            const int64_t acc = pe_load_int(in.data, in.dtype, r00 + c) * (one - wy) * (one - wx) +
                                pe_load_int(in.data, in.dtype, r10 + c) * wy * (one - wx) +
                                pe_load_int(in.data, in.dtype, r01 + c) * (one - wy) * wx +
                                pe_load_int(in.data, in.dtype, r11 + c) * wy * wx;
            /* 20 fractional bits; round half away from zero (division truncates) */
            const int64_t round = acc > 0 ? (1 << 19) : -(1 << 19);
            pe_store_int(out.data, out.dtype, o + c, wrap_to(out.dtype, (uint32_t)((acc + round) / (1 << 20))));
          }
        }
      }
    }
  }
  return PE_OK;
}
