/* Elementwise binary kernels: ADD, SUB, MUL, MINIMUM, MAXIMUM, PRELU, FLOOR_DIV, DIV; and SQRT.
 *
 * Each kernel walks the output in row-major order and reads the matching (broadcast) element
 * of each input; the per-element arithmetic is that of TFLite 2.14's reference kernels
 * (reference/add.h, sub.h, integer_ops/mul.h, maximum_minimum.h, prelu.h). uint8 ADD, SUB and
 * MUL are TFLite's legacy uint8 kernels, whose arithmetic is the int8 one with uint8 storage. */
#include <float.h>
#include <string.h>

#include "elementwise.h"
#include "fixedpoint.h"
#include "qs8_prelu.h"

/* ---- tensors -------------------------------------------------------------------------- */

static int int_dtype(int32_t dtype) {
  return dtype == PE_INT8 || dtype == PE_UINT8 || dtype == PE_INT16 || dtype == PE_INT32;
}

/* Element i of an int8/uint8/int16/int32 tensor. */
static inline int32_t load(const pe_tensor *t, int32_t i) {
  switch (t->dtype) {
    case PE_INT8: return ((const int8_t *)t->data)[i];
    case PE_UINT8: return ((const uint8_t *)t->data)[i];
    case PE_INT16: return ((const int16_t *)t->data)[i];
    default: return ((const int32_t *)t->data)[i];
  }
}

/* Store v, already within the tensor's range. */
static inline void store(const pe_tensor *t, int32_t i, int32_t v) {
  switch (t->dtype) {
    case PE_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    case PE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case PE_INT16: ((int16_t *)t->data)[i] = (int16_t)v; break;
    default: ((int32_t *)t->data)[i] = v; break;
  }
}

static inline int32_t clamp64(int64_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : (int32_t)x);
}

/* ---- broadcasting --------------------------------------------------------------------- */

/* Walks the output in row-major order, tracking the element of each input it reads. */
typedef struct {
  int32_t rank;
  int32_t dims[PE_MAX_RANK];      /* output dims */
  int32_t stride[2][PE_MAX_RANK]; /* per input, in elements; 0 along broadcast dims */
  int32_t index[PE_MAX_RANK];     /* current output position */
  int32_t at[2];                  /* current element of each input */
} bcast_walk;

static void walk_init(bcast_walk *w, const pe_tensor *a, const pe_tensor *b, const pe_tensor *out) {
  const pe_tensor *in[2];
  int32_t k, d;
  in[0] = a;
  in[1] = b;
  w->rank = out->rank;
  for (d = 0; d < out->rank; ++d) {
    w->dims[d] = out->dims[d];
    w->index[d] = 0;
  }
  for (k = 0; k < 2; ++k) {
    int32_t stride = 1;
    for (d = out->rank - 1; d >= 0; --d) {
      const int32_t n = pe_dim_from_end(in[k], out->rank - 1 - d);
      w->stride[k][d] = n == 1 ? 0 : stride;
      stride *= n;
    }
    w->at[k] = 0;
  }
}

static void walk_next(bcast_walk *w) {
  int32_t d, k;
  for (d = w->rank - 1; d >= 0; --d) {
    if (++w->index[d] < w->dims[d]) {
      for (k = 0; k < 2; ++k) w->at[k] += w->stride[k][d];
      return;
    }
    w->index[d] = 0;
    for (k = 0; k < 2; ++k) w->at[k] -= w->stride[k][d] * (w->dims[d] - 1);
  }
}

/* The output is the numpy broadcast of a and b: aligned on the last dim, each input dim equal
   to the output's or 1. This is what keeps every walk index inside its input. */
static pe_status check_broadcast(const pe_tensor *a, const pe_tensor *b, const pe_tensor *out) {
  int32_t i;
  PE_CHECK(a->rank <= out->rank && b->rank <= out->rank, PE_ERR_SHAPE);
  for (i = 0; i < out->rank; ++i) {
    const int32_t da = pe_dim_from_end(a, i), db = pe_dim_from_end(b, i);
    PE_CHECK(da == db || da == 1 || db == 1, PE_ERR_SHAPE);
    PE_CHECK(pe_dim_from_end(out, i) == (da == 1 ? db : da), PE_ERR_SHAPE);
  }
  return PE_OK;
}

/* Two present inputs with data, one writable output, broadcast-compatible shapes. */
static pe_status check_binary(const pe_op_ctx *ctx) {
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(a.index >= 0 && b.index >= 0 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(int_dtype(a.dtype) && int_dtype(b.dtype) && int_dtype(out.dtype), PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[a.index].storage != PE_STORE_NONE || a.bytes == 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[b.index].storage != PE_STORE_NONE || b.bytes == 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[out.index].storage == PE_STORE_ARENA ||
               ctx->m->tensors[out.index].storage == PE_STORE_STATE || out.bytes == 0,
           PE_ERR_SHAPE);
  return check_broadcast(&a, &b, &out);
}

static int same_dtype3(const pe_op_ctx *ctx, int32_t dtype) {
  return pe_input(ctx, 0).dtype == dtype && pe_input(ctx, 1).dtype == dtype &&
         pe_output(ctx, 0).dtype == dtype;
}

static int activation_ok(int32_t lo, int32_t hi, int32_t dtype) {
  return lo <= hi && lo >= (int64_t)pe_int_min(dtype) && hi <= (int64_t)pe_int_max(dtype);
}

/* Largest |v + offset| over the dtype's values. */
static int64_t max_abs_offset(int32_t dtype, int32_t offset) {
  const int64_t lo = (int64_t)pe_int_min(dtype) + offset, hi = (int64_t)pe_int_max(dtype) + offset;
  return -lo > hi ? -lo : hi;
}

/* ---- ADD, SUB ------------------------------------------------------------------------- */

/* (v + offset) << left_shift stays in [-2^30, 2^30) for every value v of the dtype: then the
   rescaled inputs, their sum and their difference all fit int32. */
static int rescale_input_ok(int32_t dtype, int32_t offset, int32_t left_shift) {
  const int64_t lo = ((int64_t)pe_int_min(dtype) + offset) * ((int64_t)1 << left_shift);
  const int64_t hi = ((int64_t)pe_int_max(dtype) + offset) * ((int64_t)1 << left_shift);
  return lo >= -((int64_t)1 << 30) && hi < ((int64_t)1 << 30);
}

static pe_status add_sub_check(const pe_op_ctx *ctx) {
  const pe_add_params *p = (const pe_add_params *)ctx->params;
  const int32_t dtype = pe_output(ctx, 0).dtype;
  pe_status st = check_binary(ctx);
  if (st != PE_OK) return st;
  PE_CHECK(same_dtype3(ctx, dtype), PE_ERR_SHAPE);
  PE_CHECK(activation_ok(p->activation_min, p->activation_max, dtype), PE_ERR_BAD_PARAMS);
  switch (p->kind) {
    case PE_ADD_RESCALE:
      PE_CHECK(dtype == PE_INT8 || dtype == PE_UINT8 || dtype == PE_INT16, PE_ERR_SHAPE);
      PE_CHECK(p->left_shift >= 0 && p->left_shift <= 30, PE_ERR_BAD_PARAMS);
      PE_CHECK(rescale_input_ok(dtype, p->input1_offset, p->left_shift) &&
                   rescale_input_ok(dtype, p->input2_offset, p->left_shift),
               PE_ERR_BAD_PARAMS);
      PE_CHECK(p->input1_multiplier >= 0 && p->input2_multiplier >= 0 && p->output_multiplier >= 0,
               PE_ERR_BAD_PARAMS);
      PE_CHECK(p->input1_shift >= -31 && p->input1_shift <= 0, PE_ERR_BAD_PARAMS);
      PE_CHECK(p->input2_shift >= -31 && p->input2_shift <= 0, PE_ERR_BAD_PARAMS);
      PE_CHECK(p->output_shift >= -31 && p->output_shift <= 0, PE_ERR_BAD_PARAMS);
      PE_CHECK(p->output_offset >= (int64_t)pe_int_min(dtype) && p->output_offset <= (int64_t)pe_int_max(dtype),
               PE_ERR_BAD_PARAMS);
      return PE_OK;
    case PE_ADD_POT:
      /* TFLite rounds in int16 here; the int32 rounding below agrees for shifts up to 15. */
      PE_CHECK(dtype == PE_INT16, PE_ERR_SHAPE);
      PE_CHECK(p->input1_shift >= -15 && p->input1_shift <= 0, PE_ERR_BAD_PARAMS);
      PE_CHECK(p->input2_shift >= -15 && p->input2_shift <= 0, PE_ERR_BAD_PARAMS);
      return PE_OK;
    case PE_ADD_INT32:
      PE_CHECK(dtype == PE_INT32, PE_ERR_SHAPE);
      return PE_OK;
    default:
      return PE_ERR_BAD_PARAMS;
  }
}

/* sign is +1 for ADD, -1 for SUB. */
static pe_status add_sub_eval(const pe_op_ctx *ctx, int sign) {
  const pe_add_params *p = (const pe_add_params *)ctx->params;
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  bcast_walk w;
  int32_t i;
  walk_init(&w, &a, &b, &out);
  for (i = 0; i < n; ++i, walk_next(&w)) {
    const int32_t x1 = load(&a, w.at[0]), x2 = load(&b, w.at[1]);
    int64_t r;
    if (p->kind == PE_ADD_RESCALE) {
      /* Both inputs to a common scale with `left_shift` bits of headroom, then to the output. */
      const int32_t s1 = pe_mbqm_smaller_than_one(pe_shl32(x1 + p->input1_offset, p->left_shift),
                                                  p->input1_multiplier, p->input1_shift);
      const int32_t s2 = pe_mbqm_smaller_than_one(pe_shl32(x2 + p->input2_offset, p->left_shift),
                                                  p->input2_multiplier, p->input2_shift);
      const int32_t raw = sign > 0 ? s1 + s2 : s1 - s2;
      r = (int64_t)pe_mbqm_smaller_than_one(raw, p->output_multiplier, p->output_shift) +
          p->output_offset;
    } else if (p->kind == PE_ADD_POT) {
      /* Power-of-two scales: the finer input is shifted onto the output's scale. */
      const int32_t s1 = pe_rounding_divide_by_pot(x1, -p->input1_shift);
      const int32_t s2 = pe_rounding_divide_by_pot(x2, -p->input2_shift);
      r = sign > 0 ? (int64_t)s1 + s2 : (int64_t)s1 - s2;
    } else {
      /* int32 wraps on overflow, as TFLite's int32 arithmetic does in practice. */
      r = (int32_t)(sign > 0 ? (uint32_t)x1 + (uint32_t)x2 : (uint32_t)x1 - (uint32_t)x2);
    }
    store(&out, i, clamp64(r, p->activation_min, p->activation_max));
  }
  return PE_OK;
}

pe_status pe_add_check(const pe_op_ctx *ctx) { return add_sub_check(ctx); }
pe_status pe_add__scalar(const pe_op_ctx *ctx) { return add_sub_eval(ctx, 1); }
pe_status pe_sub_check(const pe_op_ctx *ctx) { return add_sub_check(ctx); }
pe_status pe_sub__scalar(const pe_op_ctx *ctx) { return add_sub_eval(ctx, -1); }

/* ---- MUL ------------------------------------------------------------------------------ */

pe_status pe_mul_check(const pe_op_ctx *ctx) {
  const pe_mul_params *p = (const pe_mul_params *)ctx->params;
  const int32_t in_dtype = pe_input(ctx, 0).dtype, dtype = pe_output(ctx, 0).dtype;
  pe_status st = check_binary(ctx);
  if (st != PE_OK) return st;
  PE_CHECK(pe_input(ctx, 1).dtype == in_dtype, PE_ERR_SHAPE);
  PE_CHECK(activation_ok(p->activation_min, p->activation_max, dtype), PE_ERR_BAD_PARAMS);
  switch (p->kind) {
    case PE_MUL_RESCALE:
      PE_CHECK(in_dtype == dtype && (dtype == PE_INT8 || dtype == PE_UINT8 || dtype == PE_INT16), PE_ERR_SHAPE);
      /* the product of the offset inputs fits int32 */
      PE_CHECK(max_abs_offset(dtype, p->input1_offset) * max_abs_offset(dtype, p->input2_offset) <=
                   INT32_MAX,
               PE_ERR_BAD_PARAMS);
      PE_CHECK(p->output_multiplier >= 0 && p->output_shift >= -31 && p->output_shift <= 31,
               PE_ERR_BAD_PARAMS);
      PE_CHECK(p->output_offset >= (int64_t)pe_int_min(dtype) && p->output_offset <= (int64_t)pe_int_max(dtype),
               PE_ERR_BAD_PARAMS);
      return PE_OK;
    case PE_MUL_INT16_INT8:
      PE_CHECK(in_dtype == PE_INT16 && dtype == PE_INT8, PE_ERR_SHAPE);
      PE_CHECK(p->output_offset >= INT8_MIN && p->output_offset <= INT8_MAX, PE_ERR_BAD_PARAMS);
      return PE_OK;
    case PE_MUL_INT32:
      PE_CHECK(in_dtype == PE_INT32 && dtype == PE_INT32, PE_ERR_SHAPE);
      return PE_OK;
    default:
      return PE_ERR_BAD_PARAMS;
  }
}

/* gemmlowp's int16 SaturatingRoundingDoublingHighMul: the Q0.15 product. */
static int32_t srdhm16(int32_t a, int32_t b) {
  const int32_t ab = a * b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return (ab + nudge) / (1 << 15); /* division truncates toward zero, as gemmlowp's does */
}

pe_status pe_mul__scalar(const pe_op_ctx *ctx) {
  const pe_mul_params *p = (const pe_mul_params *)ctx->params;
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  bcast_walk w;
  int32_t i;
  walk_init(&w, &a, &b, &out);
  for (i = 0; i < n; ++i, walk_next(&w)) {
    const int32_t x1 = load(&a, w.at[0]), x2 = load(&b, w.at[1]);
    int32_t v;
    if (p->kind == PE_MUL_RESCALE) {
      const int32_t prod = (x1 + p->input1_offset) * (x2 + p->input2_offset);
      v = clamp64((int64_t)pe_mbqm(prod, p->output_multiplier, p->output_shift) + p->output_offset,
                  p->activation_min, p->activation_max);
    } else if (p->kind == PE_MUL_INT16_INT8) {
      /* Q0.15 x Q0.15, down to 7 fractional bits (int16 rounding agrees with int32 for a
         shift of 8); the clamp applies before the offset, as in TFLite. */
      const int32_t q = pe_rounding_divide_by_pot(srdhm16(x1, x2), 8);
      v = pe_clamp(q, p->activation_min - p->output_offset, p->activation_max - p->output_offset) +
          p->output_offset;
    } else {
      /* int32 wraps on overflow, as TFLite's int32 arithmetic does in practice. */
      v = pe_clamp((int32_t)((uint32_t)x1 * (uint32_t)x2), p->activation_min, p->activation_max);
    }
    store(&out, i, v);
  }
  return PE_OK;
}

/* ---- MINIMUM, MAXIMUM ----------------------------------------------------------------- */

static pe_status minmax_check(const pe_op_ctx *ctx) {
  pe_status st = check_binary(ctx);
  if (st != PE_OK) return st;
  PE_CHECK(same_dtype3(ctx, pe_output(ctx, 0).dtype), PE_ERR_SHAPE);
  return PE_OK;
}

/* want_max: 1 for MAXIMUM, 0 for MINIMUM. Raw values are compared; scales play no part. */
static pe_status minmax_eval(const pe_op_ctx *ctx, int want_max) {
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  bcast_walk w;
  int32_t i;
  walk_init(&w, &a, &b, &out);
  for (i = 0; i < n; ++i, walk_next(&w)) {
    const int32_t x1 = load(&a, w.at[0]), x2 = load(&b, w.at[1]);
    store(&out, i, want_max ? (x1 > x2 ? x1 : x2) : (x1 < x2 ? x1 : x2));
  }
  return PE_OK;
}

pe_status pe_minimum_check(const pe_op_ctx *ctx) { return minmax_check(ctx); }
pe_status pe_minimum__scalar(const pe_op_ctx *ctx) { return minmax_eval(ctx, 0); }
pe_status pe_maximum_check(const pe_op_ctx *ctx) { return minmax_check(ctx); }
pe_status pe_maximum__scalar(const pe_op_ctx *ctx) { return minmax_eval(ctx, 1); }

/* ---- PRELU ---------------------------------------------------------------------------- */

pe_status pe_prelu_check(const pe_op_ctx *ctx) {
  const pe_prelu_params *p = (const pe_prelu_params *)ctx->params;
  const pe_tensor x = pe_input(ctx, 0), out = pe_output(ctx, 0);
  pe_status st = check_binary(ctx);
  if (st != PE_OK) return st;
  PE_CHECK(same_dtype3(ctx, PE_INT8), PE_ERR_SHAPE);
  PE_CHECK(pe_same_shape(&x, &out), PE_ERR_SHAPE); /* alpha broadcasts to x, never x to alpha */
  PE_CHECK(max_abs_offset(PE_INT8, p->input_offset) * max_abs_offset(PE_INT8, p->alpha_offset) <=
               INT32_MAX,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->identity_multiplier >= 0 && p->identity_shift >= -31 && p->identity_shift <= 31,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->alpha_multiplier >= 0 && p->alpha_shift >= -31 && p->alpha_shift <= 31,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->output_offset >= INT8_MIN && p->output_offset <= INT8_MAX, PE_ERR_BAD_PARAMS);
  return PE_OK;
}

pe_status pe_prelu__scalar(const pe_op_ctx *ctx) {
  const pe_prelu_params *p = (const pe_prelu_params *)ctx->params;
  const pe_tensor x = pe_input(ctx, 0), alpha = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  bcast_walk w;
  int32_t i;
  walk_init(&w, &x, &alpha, &out);
  for (i = 0; i < n; ++i, walk_next(&w)) store(&out, i, pe_qs8_prelu_one(p, load(&x, w.at[0]), load(&alpha, w.at[1])));
  return PE_OK;
}

/* ---- FLOOR_DIV, DIV, SQRT (no quantization) -------------------------------------------- */

/* The core links no libm (bare-metal builds): floor and sqrtf written out, exact. */

/* floor(q) for a double: integers, infinities, NaN and zeros (with their sign) as they are */
static double floor_exact(double q) {
  double t;
  if (!(q > -4503599627370496.0 && q < 4503599627370496.0) || q == 0.0) return q; /* |q| >= 2^52: integer */
  t = (double)(int64_t)q;
  return t > q ? t - 1.0 : t;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static float f32_from(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* floor(sqrt(n)) of a uint64 and whether the root is inexact, bit by bit */
static uint64_t isqrt64(uint64_t n, int *inexact) {
  uint64_t r = 0, bit = (uint64_t)1 << 62;
  while (bit > n) bit >>= 2;
  while (bit != 0) {
    if (n >= r + bit) {
      n -= r + bit;
      r = (r >> 1) + bit;
    } else {
      r >>= 1;
    }
    bit >>= 2;
  }
  *inexact = n != 0;
  return r;
}

/* sqrtf, correctly rounded (IEEE 754, as the hardware instruction), without libm. A negative
   input gives x86-64's default NaN (0xFFC00000), a NaN its quiet self. */
static float sqrt_exact(float x) {
  const uint32_t u = f32_bits(x);
  int32_t e = (int32_t)((u >> 23) & 0xFFu);
  uint64_t m = u & 0x7FFFFFu, q;
  int inexact;
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return f32_from(u | 0x400000u); /* NaN */
  if ((u & 0x7FFFFFFFu) == 0) return x;                                  /* +-0 */
  if (u & 0x80000000u) return f32_from(0xFFC00000u);                     /* negative */
  if (u == 0x7F800000u) return x;                                        /* +inf */
  if (e == 0) { /* subnormal: normalize */
    e = 1;
    while (!(m & 0x800000u)) {
      m <<= 1;
      --e;
    }
  } else {
    m |= 0x800000u;
  }
  e -= 150; /* x = m * 2^e, m in [2^23, 2^24) */
  if (e & 1) {
    m <<= 1;
    --e;
  }
  /* sqrt(x) = sqrt(m << 30) * 2^(e / 2 - 15); the root has >= 26 bits, so rounding the root
     with a sticky bit to float is the correct rounding of the exact value */
  q = isqrt64(m << 30, &inexact);
  return (float)((q << 1) | (uint64_t)inexact) * f32_from((uint32_t)(127 + e / 2 - 16) << 23);
}

/* Two inputs and one output of dtype (int or float32), broadcast-compatible, with data. */
static pe_status check_binary_typed(const pe_op_ctx *ctx, int32_t dtype) {
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(a.index >= 0 && b.index >= 0 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(a.dtype == dtype && b.dtype == dtype && out.dtype == dtype, PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[a.index].storage != PE_STORE_NONE || a.bytes == 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[b.index].storage != PE_STORE_NONE || b.bytes == 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[out.index].storage == PE_STORE_ARENA ||
               ctx->m->tensors[out.index].storage == PE_STORE_STATE || out.bytes == 0,
           PE_ERR_SHAPE);
  return check_broadcast(&a, &b, &out);
}

pe_status pe_floor_div_check(const pe_op_ctx *ctx) {
  const pe_floor_div_params *p = (const pe_floor_div_params *)ctx->params;
  const int32_t dtype = pe_output(ctx, 0).dtype;
  PE_CHECK(p->reserved == 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(dtype == PE_INT8 || dtype == PE_INT16 || dtype == PE_INT32 || dtype == PE_FLOAT32, PE_ERR_SHAPE);
  return check_binary_typed(ctx, dtype);
}

/* Any zero in an integer denominator (TFLite checks the whole tensor before dividing). */
static int has_zero(const pe_tensor *t) {
  const int32_t n = pe_elems(t);
  int32_t i;
  for (i = 0; i < n; ++i)
    if (load(t, i) == 0) return 1;
  return 0;
}

/* floor(x / y) of integers, exactly (y != 0) */
static int64_t floor_div_int(int64_t x, int64_t y) {
  int64_t q = x / y;
  if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
  return q;
}

pe_status pe_floor_div__scalar(const pe_op_ctx *ctx) {
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  bcast_walk w;
  int32_t i;
  if (out.dtype != PE_FLOAT32 && has_zero(&b)) return PE_ERR_RUNTIME;
  walk_init(&w, &a, &b, &out);
  for (i = 0; i < n; ++i, walk_next(&w)) {
    if (out.dtype == PE_FLOAT32) {
      const double x = ((const float *)a.data)[w.at[0]], y = ((const float *)b.data)[w.at[1]];
      ((float *)out.data)[i] = (float)floor_exact(x / y);
    } else {
      /* low bits of the exact quotient: INT_MIN / -1 wraps, as static_cast of its double does on x86-64 */
      const int64_t q = floor_div_int(load(&a, w.at[0]), load(&b, w.at[1]));
      const uint32_t u = (uint32_t)(uint64_t)q;
      store(&out, i, out.dtype == PE_INT8 ? (int8_t)(uint8_t)u : out.dtype == PE_INT16 ? (int16_t)(uint16_t)u : (int32_t)u);
    }
  }
  return PE_OK;
}

pe_status pe_div_check(const pe_op_ctx *ctx) {
  const pe_div_params *p = (const pe_div_params *)ctx->params;
  const int32_t dtype = pe_output(ctx, 0).dtype;
  PE_CHECK(dtype == PE_INT32 || dtype == PE_FLOAT32 || dtype == PE_UINT8, PE_ERR_SHAPE);
  PE_CHECK(p->activation >= PE_DIV_ACT_NONE && p->activation <= PE_DIV_ACT_RELU6, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->activation_min <= p->activation_max, PE_ERR_BAD_PARAMS);
  if (dtype == PE_UINT8) {
    PE_CHECK(p->activation_min >= 0 && p->activation_max <= 255, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->input1_offset >= -255 && p->input1_offset <= 0, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->input2_offset >= -255 && p->input2_offset <= 0, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->output_offset >= 0 && p->output_offset <= 255, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->output_multiplier >= 0 && p->output_shift >= -31 && p->output_shift <= 23, PE_ERR_BAD_PARAMS);
  }
  return check_binary_typed(ctx, dtype);
}

/* gemmlowp RoundingDivideByPOT for exponents in [0, 62] (x / 2^e, halves away from zero): the
   uint8 DIV quotient's exponent can pass 31 */
static int32_t rounding_divide_by_pot64(int32_t x, int exponent) {
  const int64_t mask = ((int64_t)1 << exponent) - 1;
  const int64_t remainder = (int64_t)x & mask;
  const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (int32_t)(((int64_t)x >> exponent) + (remainder > threshold ? 1 : 0));
}

/* One uint8 quotient (reference_ops::DivElementwise); y != 0. */
static int32_t div_u8_one(const pe_div_params *p, int32_t x, int32_t y) {
  int recip_shift, headroom, total_shift;
  int32_t inv, unscaled;
  if (y < 0) {
    x = -x;
    y = -y;
  }
  inv = pe_fp_get_reciprocal(y, 31, &recip_shift);
  headroom = (x >= 0 ? pe_fp_clz32((uint32_t)x) : pe_fp_clz32(~(uint32_t)x)) - 1; /* CountLeadingSignBits */
  unscaled = pe_mbqm_greater_than_one(x, inv, headroom);
  /* <= 0: |x| <= 255 leaves headroom >= 23; below -62 every |value| < 2^31 rounds to 0 anyway */
  total_shift = p->output_shift - recip_shift - headroom;
  return p->output_offset + rounding_divide_by_pot64(pe_sat_rounding_doubling_high_mul(unscaled, p->output_multiplier),
                                                     total_shift < -62 ? 62 : -total_shift);
}

pe_status pe_div__scalar(const pe_op_ctx *ctx) {
  const pe_div_params *p = (const pe_div_params *)ctx->params;
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  float lo = -FLT_MAX, hi = FLT_MAX; /* CalculateActivationRange<float>: infinities clamp */
  bcast_walk w;
  int32_t i;
  if (out.dtype == PE_INT32 && has_zero(&b)) return PE_ERR_RUNTIME;
  if (out.dtype == PE_UINT8) {
    /* a zero real denominator: TFLite's GetReciprocal(0) shifts by 32 (undefined) */
    for (i = 0; i < pe_elems(&b); ++i)
      if (load(&b, i) + p->input2_offset == 0) return PE_ERR_RUNTIME;
    walk_init(&w, &a, &b, &out);
    for (i = 0; i < n; ++i, walk_next(&w)) {
      const int32_t v = div_u8_one(p, load(&a, w.at[0]) + p->input1_offset, load(&b, w.at[1]) + p->input2_offset);
      store(&out, i, pe_clamp(v, p->activation_min, p->activation_max));
    }
    return PE_OK;
  }
  if (p->activation == PE_DIV_ACT_RELU) lo = 0.0f;
  if (p->activation == PE_DIV_ACT_RELU_N1_TO_1) {
    lo = -1.0f;
    hi = 1.0f;
  }
  if (p->activation == PE_DIV_ACT_RELU6) {
    lo = 0.0f;
    hi = 6.0f;
  }
  walk_init(&w, &a, &b, &out);
  for (i = 0; i < n; ++i, walk_next(&w)) {
    if (out.dtype == PE_FLOAT32) {
      /* std::min(std::max(v, lo), hi): a NaN passes through */
      float v = ((const float *)a.data)[w.at[0]] / ((const float *)b.data)[w.at[1]];
      v = v < lo ? lo : v;
      v = hi < v ? hi : v;
      ((float *)out.data)[i] = v;
    } else {
      const int32_t x = load(&a, w.at[0]), y = load(&b, w.at[1]);
      const int32_t q = (x == INT32_MIN && y == -1) ? INT32_MIN : x / y;
      store(&out, i, pe_clamp(q, p->activation_min, p->activation_max));
    }
  }
  return PE_OK;
}

pe_status pe_sqrt_check(const pe_op_ctx *ctx) {
  const pe_sqrt_params *p = (const pe_sqrt_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t d;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->reserved == 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.dtype == PE_FLOAT32 && out.dtype == PE_FLOAT32 && in.rank == out.rank, PE_ERR_SHAPE);
  for (d = 0; d < in.rank; ++d) PE_CHECK(in.dims[d] == out.dims[d], PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[in.index].storage != PE_STORE_NONE || in.bytes == 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->m->tensors[out.index].storage == PE_STORE_ARENA ||
               ctx->m->tensors[out.index].storage == PE_STORE_STATE || out.bytes == 0,
           PE_ERR_SHAPE);
  return PE_OK;
}

pe_status pe_sqrt__scalar(const pe_op_ctx *ctx) {
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  int32_t i;
  for (i = 0; i < n; ++i) ((float *)out.data)[i] = sqrt_exact(((const float *)in.data)[i]);
  return PE_OK;
}

