/*
 * Activations and (de)quantization: scalar reference kernels, bit-exact with TFLite 2.14's
 * reference kernels (kernels/activations.cc, quantize.cc, dequantize.cc with kReference).
 * Tables that TFLite computes in Prepare with float math (int8 LOGISTIC/TANH, int16
 * SOFTMAX) are computed by the lowering and arrive as constant input tensors.
 */
#include "activation.h"

#include "fixedpoint.h"

/* ---- helpers --------------------------------------------------------------------- */

static int is_int_type(int32_t dtype) {
  return dtype == PE_INT8 || dtype == PE_UINT8 || dtype == PE_INT16 || dtype == PE_INT32;
}

/* The tensor has storage (const, arena or state): kernels may read it. */
static int readable(const pe_op_ctx *ctx, const pe_tensor *t) {
  return t->index >= 0 && ctx->m->tensors[t->index].storage != PE_STORE_NONE;
}

/* The tensor lives in the arena or state region: kernels may write it. */
static int writable(const pe_op_ctx *ctx, const pe_tensor *t) {
  uint8_t s;
  if (t->index < 0) return 0;
  s = ctx->m->tensors[t->index].storage;
  return s == PE_STORE_ARENA || s == PE_STORE_STATE;
}

/* A numeric type whose element count fits the int32 loop counters the kernels use. */
static int count_ok(const pe_tensor *t) {
  const uint32_t size = pe_dtype_size((uint32_t)t->dtype);
  return size > 0 && size <= 8 && t->bytes / size <= (uint32_t)INT32_MAX;
}

/* Common check of a one-input one-output elementwise op: both readable/writable, same
   shape, sizes fit; extra inputs (tables) allowed up to n_inputs_max. */
static pe_status check_unary(const pe_op_ctx *ctx, uint32_t n_inputs_min, uint32_t n_inputs_max,
                             pe_tensor *in, pe_tensor *out) {
  *in = pe_input(ctx, 0);
  *out = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs >= n_inputs_min && ctx->n_inputs <= n_inputs_max && ctx->n_outputs == 1,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(readable(ctx, in) && writable(ctx, out), PE_ERR_SHAPE);
  PE_CHECK(pe_same_shape(in, out) && count_ok(in), PE_ERR_SHAPE);
  return PE_OK;
}

/* A constant table input: given dtype and exactly n elements. */
static int const_table_ok(const pe_tensor *t, int32_t dtype, int32_t n) {
  return t->index >= 0 && t->data != NULL && t->dtype == dtype && pe_elems(t) == n;
}

static int shift_ok(int32_t shift) { return shift >= -31 && shift <= 31; }

/* float -> int32 as x86's cvttss2si/cvttsd2si (what TFLite's static_cast<int32_t> does
   on its reference platform): truncation, and INT32_MIN for NaN or out-of-range values. */
static int32_t f32_to_i32(float x) {
  if (x >= -2147483648.0f && x < 2147483648.0f) return (int32_t)x;
  return INT32_MIN;
}

/* std::round on float (half away from zero), without libm. */
static float round_half_away_f32(float x) {
  float t, frac;
  if (!(x > -8388608.0f && x < 8388608.0f)) return x; /* integral already (or NaN/inf) */
  t = (float)(int32_t)x;                               /* truncated toward zero */
  frac = x - t;                                        /* exact: |x| < 2^23 */
  if (frac >= 0.5f) return t + 1.0f;
  if (frac <= -0.5f) return t - 1.0f;
  return t;
}

/* ---- SOFTMAX --------------------------------------------------------------------- */

pe_status pe_softmax_check(const pe_op_ctx *ctx) {
  const pe_softmax_params *p = (const pe_softmax_params *)ctx->params;
  pe_tensor in, out;
  pe_status st;
  if (pe_input(ctx, 0).dtype == PE_INT16) {
    pe_tensor exp_lut, recip_lut;
    st = check_unary(ctx, 3, 3, &in, &out);
    if (st != PE_OK) return st;
    exp_lut = pe_input(ctx, 1);
    recip_lut = pe_input(ctx, 2);
    PE_CHECK(out.dtype == PE_INT16 && in.rank >= 1, PE_ERR_SHAPE);
    PE_CHECK(const_table_ok(&exp_lut, PE_INT16, 513) && const_table_ok(&recip_lut, PE_INT16, 513),
             PE_ERR_SHAPE);
    /* the int32 sum of exps (each <= 32767) must stay positive */
    PE_CHECK(pe_dim_from_end(&in, 0) <= 65536, PE_ERR_SHAPE);
    PE_CHECK(shift_ok(p->input_left_shift), PE_ERR_BAD_PARAMS);
    return PE_OK;
  }
  st = check_unary(ctx, 1, 1, &in, &out);
  if (st != PE_OK) return st;
  PE_CHECK((in.dtype == PE_INT8 || in.dtype == PE_UINT8) && in.rank >= 1, PE_ERR_SHAPE);
  PE_CHECK(out.dtype == PE_INT8 || out.dtype == PE_UINT8 || out.dtype == PE_INT16, PE_ERR_SHAPE);
  PE_CHECK(p->input_multiplier >= 0 && p->input_left_shift >= 0 && p->input_left_shift <= 31,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->diff_min <= 0, PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* gemmlowp RoundingDivideByPOT for exponent in [0, 63]. Softmax with int8 output reaches
   exponents 32..35 when 2^9 or more entries of a row tie at the maximum (or the Q12 sum of
   exps wraps); that is undefined behaviour in TFLite's C++, and this reproduces what its x86
   build computes (and the reference oracle outputs): the mask (2^exponent - 1) truncates to
   all ones in int32 and the shift count is taken mod 32. */
static int32_t rounding_divide_by_pot_x86(int32_t x, int32_t exponent) {
  int32_t mask, remainder, threshold;
  if (exponent <= 31) return pe_rounding_divide_by_pot(x, exponent);
  mask = -1;
  remainder = x & mask;
  threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return pe_fp_add(x >> (exponent & 31), remainder > threshold ? 1 : 0);
}

/* int8/uint8 input: reference_ops::Softmax (gemmlowp fixed point). exp(input - max) in Q0
   for input - max rescaled to Q5.26, summed in Q12, multiplied by the reciprocal sum.
   Everything per element is a function of diff = input - max alone, and an 8-bit row has at
   most 256 distinct diffs: a long row (1000 classes) computes each diff's exp and output once
   into a table and looks them up, in the same order and with the same arithmetic. */
/* exp(diff) in Q0, diff = input - max rescaled to Q5.26 */
static int32_t softmax_exp(const pe_softmax_params *p, int32_t diff) {
  return pe_fp_exp_on_negative_values(pe_mbqm_greater_than_one(diff, p->input_multiplier, p->input_left_shift), 5);
}

/* one output from its exp and the row's reciprocal sum */
static int32_t softmax_out(int32_t exp_q0, int32_t shifted_scale, int32_t exponent, int32_t out_min,
                           int32_t out_max) {
  const int32_t unsat = rounding_divide_by_pot_x86(pe_fp_mul(shifted_scale, exp_q0), exponent);
  return pe_clamp(pe_fp_add(unsat, out_min), out_min, out_max);
}

static pe_status softmax_8bit(const pe_op_ctx *ctx, const pe_tensor *in, const pe_tensor *out) {
  const pe_softmax_params *p = (const pe_softmax_params *)ctx->params;
  const int32_t depth = pe_dim_from_end(in, 0);
  const int32_t outer = depth > 0 ? pe_elems(in) / depth : 0;
  const int32_t out_min = pe_int_min(out->dtype), out_max = pe_int_max(out->dtype);
  const int32_t in_min = pe_int_min(in->dtype), in_max = pe_int_max(in->dtype);
  int32_t exp_tab[256], out_tab[256];
  int32_t i, c, d;
  for (i = 0; i < outer; ++i) {
    const int32_t base = i * depth;
    int32_t max_in_row = in_min, min_in_row = in_max, sum_of_exps = 0, shifted_scale, exponent, lo, use_tab;
    int num_bits_over_unit;
    for (c = 0; c < depth; ++c) {
      const int32_t v = pe_load_int(in->data, in->dtype, base + c);
      if (v > max_in_row) max_in_row = v;
      if (v < min_in_row) min_in_row = v;
    }
    /* diffs that count lie in [lo, 0]; at most 256 of them */
    lo = min_in_row - max_in_row > p->diff_min ? min_in_row - max_in_row : p->diff_min;
    use_tab = lo >= -255 && depth > 1 - lo;
    if (use_tab)
      for (d = lo; d <= 0; ++d) exp_tab[d - lo] = softmax_exp(p, d);
    for (c = 0; c < depth; ++c) {
      const int32_t diff = pe_load_int(in->data, in->dtype, base + c) - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t exp_q0 = use_tab ? exp_tab[diff - lo] : softmax_exp(p, diff);
        sum_of_exps = pe_fp_add(sum_of_exps, pe_fp_rescale(exp_q0, 0, 12));
      }
    }
    shifted_scale = pe_fp_get_reciprocal(sum_of_exps, 12, &num_bits_over_unit);
    /* the output has (bits of the output type) fractional bits, e.g. Q0.8 for int8 */
    exponent = num_bits_over_unit + 31 - 8 * (int32_t)pe_dtype_size((uint32_t)out->dtype);
    /* negative only if > 4095 ties wrap the int32 sum to below 2^(12 - 8 * output bytes);
       TFLite's shift is undefined there */
    if (exponent < 0) return PE_ERR_RUNTIME;
    if (use_tab)
      for (d = lo; d <= 0; ++d) out_tab[d - lo] = softmax_out(exp_tab[d - lo], shifted_scale, exponent, out_min, out_max);
    for (c = 0; c < depth; ++c) {
      const int32_t diff = pe_load_int(in->data, in->dtype, base + c) - max_in_row;
      int32_t result = out_min;
      if (diff >= p->diff_min)
        result = use_tab ? out_tab[diff - lo]
                         : softmax_out(softmax_exp(p, diff), shifted_scale, exponent, out_min, out_max);
      pe_store_int(out->data, out->dtype, base + c, result);
    }
  }
  return PE_OK;
}

/* TFLite LUTLookup for int16: 512 segments of 128 input steps, linear interpolation. */
static int16_t lut_lookup16(int16_t value, const int16_t *lut) {
  const int32_t index = 256 + (value >> 7); /* 0..511 */
  const int32_t offset = value & 0x7f;
  const int16_t base = lut[index];
  const int16_t slope = (int16_t)(lut[index + 1] - lut[index]);
  const int32_t delta = (slope * offset + 64) >> 7;
  return (int16_t)(base + delta);
}

/* int16 input: reference_ops::SoftmaxInt16 (exp and reciprocal by interpolated LUTs). */
static pe_status softmax_int16(const pe_op_ctx *ctx, const pe_tensor *in, const pe_tensor *out) {
  const pe_softmax_params *p = (const pe_softmax_params *)ctx->params;
  const int16_t *x = (const int16_t *)in->data;
  int16_t *y = (int16_t *)out->data;
  const int16_t *exp_lut = (const int16_t *)pe_input(ctx, 1).data;
  const int16_t *recip_lut = (const int16_t *)pe_input(ctx, 2).data;
  const int32_t depth = pe_dim_from_end(in, 0);
  const int32_t outer = depth > 0 ? pe_elems(in) / depth : 0;
  int32_t i, c;
  for (i = 0; i < outer; ++i) {
    const int32_t base = i * depth;
    int16_t max_in_row = INT16_MIN;
    int32_t sum_of_exps = 0, shifted_sum, right_shift;
    int16_t reciprocal_q015;
    int headroom_plus_one;
    for (c = 0; c < depth; ++c)
      if (x[base + c] > max_in_row) max_in_row = x[base + c];
    /* exp(x - max) in Q0.15, cached in the output row */
    for (c = 0; c < depth; ++c) {
      const int32_t diff = x[base + c] - max_in_row;
      /* [-65535, 0] stands for [-10, 0]; recentre to [-32768, 32767] for the LUT */
      const int32_t scaled = pe_mbqm(diff, p->input_multiplier, p->input_left_shift);
      const int16_t sym = (int16_t)pe_clamp(pe_fp_add(scaled, 32767), INT16_MIN, INT16_MAX);
      y[base + c] = lut_lookup16(sym, exp_lut);
      sum_of_exps += y[base + c]; /* < 65537 * 32767: no overflow (checked) */
    }
    if (sum_of_exps <= 0) {
      /* exp(0) is in every row, so only a corrupt table gets here */
      return PE_ERR_RUNTIME;
    }
    /* 1 / sum: normalise sum to [1, 2) in Q1.14 (sum - 1 recentred for the LUT) */
    headroom_plus_one = pe_fp_clz32((uint32_t)sum_of_exps);
    shifted_sum =
        (int32_t)((((int64_t)sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
    reciprocal_q015 = lut_lookup16(
        (int16_t)pe_clamp(shifted_sum - ((1 << 15) + (1 << 16)), INT16_MIN, INT16_MAX), recip_lut);
    right_shift = 31 - headroom_plus_one; /* >= 13: the sum holds exp(0) = 32767 */
    for (c = 0; c < depth; ++c) {
      const int64_t round = right_shift > 0 ? (int64_t)1 << (right_shift - 1) : 0;
      const int32_t result =
          (int32_t)(((int64_t)y[base + c] * (int64_t)reciprocal_q015 + round) >> right_shift);
      y[base + c] = (int16_t)pe_clamp(result, 0, 32767);
    }
  }
  return PE_OK;
}

pe_status pe_softmax__scalar(const pe_op_ctx *ctx) {
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  return in.dtype == PE_INT16 ? softmax_int16(ctx, &in, &out) : softmax_8bit(ctx, &in, &out);
}

/* ---- LOGISTIC and TANH ------------------------------------------------------------- */

/* sigmoid(i / 24) in Q0.16 (65535 for the last entry), TFLite's sigmoid_table_uint16 used
   by both int16 LOGISTIC and TANH (tanh(x) = 2 * sigmoid(2x) - 1). */
static const uint16_t kSigmoidTable[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535};

static pe_status check_logistic_or_tanh(const pe_op_ctx *ctx) {
  const pe_logistic_params *p = (const pe_logistic_params *)ctx->params;
  pe_tensor in, out, lut;
  pe_status st;
  if (pe_input(ctx, 0).dtype == PE_INT16) {
    st = check_unary(ctx, 1, 1, &in, &out);
    if (st != PE_OK) return st;
    PE_CHECK(out.dtype == PE_INT16, PE_ERR_SHAPE);
    PE_CHECK(p->input_multiplier >= 0 && p->input_left_shift >= 0 && p->input_left_shift <= 31,
             PE_ERR_BAD_PARAMS);
    /* power-of-two case: input scaled by 3 << shift */
    PE_CHECK(p->input_multiplier > 0 || p->input_left_shift <= 1, PE_ERR_BAD_PARAMS);
    return PE_OK;
  }
  st = check_unary(ctx, 2, 2, &in, &out);
  if (st != PE_OK) return st;
  lut = pe_input(ctx, 1);
  PE_CHECK((in.dtype == PE_INT8 || in.dtype == PE_UINT8) && out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(const_table_ok(&lut, in.dtype, 256), PE_ERR_SHAPE);
  return PE_OK;
}

/* 8-bit RELU, LEAKY_RELU, HARD_SWISH: an output byte is a function of the input byte alone, so
   above LUT_MIN elements the kernels evaluate it once for each of the 256 bytes and map the
   tensor through that table (the same values; 256 evaluations instead of n). */
#define LUT_MIN 512

static int use_lut(const pe_tensor *in) {
  return (in->dtype == PE_INT8 || in->dtype == PE_UINT8) && pe_elems(in) >= LUT_MIN;
}

/* The input value of byte b */
static int32_t byte_value(int32_t dtype, uint32_t b) { return dtype == PE_INT8 ? (int32_t)(int8_t)b : (int32_t)b; }

/* y[i] = table[byte i of x]: TFLite's LookupTable for 8-bit tensors (LOGISTIC and TANH take their
   table from the packer) */
static void map_bytes(const pe_tensor *in, const uint8_t *table, const pe_tensor *out) {
  const uint8_t *x = (const uint8_t *)in->data;
  uint8_t *y = (uint8_t *)out->data;
  const int32_t n = pe_elems(in);
  int32_t i;
  for (i = 0; i < n; ++i) y[i] = table[x[i]];
}

/* x * multiplier (+ rounding) >> shift with the int32 wrap-around of TFLite's int
   arithmetic; multiplier 0 stands for 3 << shift (power-of-two input scale). */
static int32_t rescale_int16_input(int16_t x, int32_t multiplier, int32_t shift) {
  int32_t round;
  if (multiplier == 0) {
    multiplier = 3 << shift;
    shift = 0;
  }
  round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
  return pe_fp_add((int32_t)((uint32_t)x * (uint32_t)multiplier), round) >> shift;
}

/* |v| as uint32 (abs(INT32_MIN) wraps to 2^31, as in practice in C++). */
static uint32_t abs_u32(int32_t v) { return v < 0 ? 0u - (uint32_t)v : (uint32_t)v; }

/* reference_integer_ops::Logistic (int16): sigmoid table with 9 fractional index bits. */
static void logistic_int16(const pe_logistic_params *p, const pe_tensor *in, const pe_tensor *out) {
  const int16_t *x = (const int16_t *)in->data;
  int16_t *y = (int16_t *)out->data;
  const int32_t n = pe_elems(in);
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t v = rescale_int16_input(x[i], p->input_multiplier, p->input_left_shift);
    const uint32_t abs_v = abs_u32(v);
    const uint32_t uh = abs_v >> 9;
    uint32_t result;
    if (uh >= 255) {
      result = 0x7FFFu << 10; /* saturate */
    } else {
      const uint32_t ua = kSigmoidTable[uh], ub = kSigmoidTable[uh + 1];
      result = (ua << 9) + (abs_v & 0x1ff) * (ub - ua);
    }
    /* sigmoid(-x) = 1 - sigmoid(x) */
    result = v >= 0 ? result + (1u << 9) : (1u << (16 + 9)) - result + (1u << 9) - 1u;
    y[i] = (int16_t)(result >> 10);
  }
}

/* reference_integer_ops::Tanh (int16): the sigmoid table with 8 fractional index bits. */
static void tanh_int16(const pe_logistic_params *p, const pe_tensor *in, const pe_tensor *out) {
  const int16_t *x = (const int16_t *)in->data;
  int16_t *y = (int16_t *)out->data;
  const int32_t n = pe_elems(in);
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t v = rescale_int16_input(x[i], p->input_multiplier, p->input_left_shift);
    const uint32_t abs_v = abs_u32(v);
    const uint32_t uh = abs_v >> 8;
    int32_t result;
    if (uh >= 255) {
      result = 0xFFFF << 8; /* saturate */
    } else {
      const uint32_t ua = kSigmoidTable[uh], ub = kSigmoidTable[uh + 1];
      result = (int32_t)((ua << 8) + (abs_v & 0xff) * (ub - ua));
    }
    /* tanh(x) = 2 * sigmoid(2x) - 1; tanh(-x) = -tanh(x) */
    result = v >= 0 ? result - (1 << (14 + 9)) + (1 << (9 - 2))
                    : -result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1;
    y[i] = (int16_t)(result >> (9 - 1));
  }
}

pe_status pe_logistic_check(const pe_op_ctx *ctx) { return check_logistic_or_tanh(ctx); }

pe_status pe_logistic__scalar(const pe_op_ctx *ctx) {
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  if (in.dtype == PE_INT16) {
    logistic_int16((const pe_logistic_params *)ctx->params, &in, &out);
  } else {
    const pe_tensor lut = pe_input(ctx, 1);
    map_bytes(&in, (const uint8_t *)lut.data, &out);
  }
  return PE_OK;
}

pe_status pe_tanh_check(const pe_op_ctx *ctx) { return check_logistic_or_tanh(ctx); }

pe_status pe_tanh__scalar(const pe_op_ctx *ctx) {
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  if (in.dtype == PE_INT16) {
    tanh_int16((const pe_logistic_params *)ctx->params, &in, &out);
  } else {
    const pe_tensor lut = pe_input(ctx, 1);
    map_bytes(&in, (const uint8_t *)lut.data, &out);
  }
  return PE_OK;
}

/* ---- RSQRT ------------------------------------------------------------------------ */

pe_status pe_rsqrt_check(const pe_op_ctx *ctx) {
  const pe_rsqrt_params *p = (const pe_rsqrt_params *)ctx->params;
  pe_tensor in, out;
  const pe_status st = check_unary(ctx, 1, 1, &in, &out);
  if (st != PE_OK) return st;
  PE_CHECK(in.dtype == PE_INT8 && out.dtype == PE_INT8, PE_ERR_SHAPE);
  PE_CHECK(p->input_zero_point >= -128 && p->input_zero_point <= 127 && p->output_zero_point >= -128 &&
               p->output_zero_point <= 127,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->multiplier >= 0 && shift_ok(p->shift) && shift_ok(p->shift - 20), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* TFLite RsqrtEvalQuantized for value = x - input_zero_point >= 0. */
static int8_t rsqrt_one(const pe_rsqrt_params *p, int32_t value) {
  int32_t inv_mult, data, v;
  int inv_shift;
  if (value == 0) return INT8_MAX; /* "any value close to 0 represents the max output value" */
  pe_fp_inv_sqrt_multiplier_exp(value, &inv_mult, &inv_shift);
  data = pe_mbqm(1, inv_mult, inv_shift + 20);
  v = pe_fp_add(pe_mbqm(data, p->multiplier, p->shift - 20), p->output_zero_point);
  return (int8_t)(v < INT8_MIN ? INT8_MIN : v > INT8_MAX ? INT8_MAX : v);
}

pe_status pe_rsqrt__scalar(const pe_op_ctx *ctx) {
  const pe_rsqrt_params *p = (const pe_rsqrt_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int8_t *x = (const int8_t *)in.data;
  int8_t *y = (int8_t *)out.data;
  const int32_t n = pe_elems(&in);
  int8_t table[256];
  int32_t i, b;
  /* TFLite checks every input before computing any output */
  for (i = 0; i < n; ++i)
    if (x[i] < p->input_zero_point) return PE_ERR_RUNTIME; /* "only defined for positive values" */
  if (use_lut(&in)) {
    for (b = p->input_zero_point; b <= 127; ++b) table[(uint8_t)(int8_t)b] = rsqrt_one(p, b - p->input_zero_point);
    map_bytes(&in, (const uint8_t *)table, &out);
  } else {
    for (i = 0; i < n; ++i) y[i] = rsqrt_one(p, (int32_t)x[i] - p->input_zero_point);
  }
  return PE_OK;
}

/* ---- RELU family ------------------------------------------------------------------ */

pe_status pe_relu_check(const pe_op_ctx *ctx) {
  const pe_relu_params *p = (const pe_relu_params *)ctx->params;
  pe_tensor in, out;
  const pe_status st = check_unary(ctx, 1, 1, &in, &out);
  if (st != PE_OK) return st;
  PE_CHECK((in.dtype == PE_INT8 || in.dtype == PE_UINT8 || in.dtype == PE_INT16) &&
               out.dtype == in.dtype,
           PE_ERR_SHAPE);
  PE_CHECK(shift_ok(p->output_shift), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* TFLite ReluX: requantize to the output scale, then clamp (max first, then min). */
static int32_t relu_one(const pe_relu_params *p, int32_t v_in) {
  const int32_t x = pe_fp_sub(v_in, p->input_zero_point);
  int32_t v = pe_fp_add(p->output_zero_point, pe_mbqm(x, p->output_multiplier, p->output_shift));
  if (v < p->activation_min) v = p->activation_min;
  if (v > p->activation_max) v = p->activation_max;
  return v;
}

pe_status pe_relu__scalar(const pe_op_ctx *ctx) {
  const pe_relu_params *p = (const pe_relu_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&in);
  int32_t i;
  if (use_lut(&in)) {
    uint8_t table[256];
    uint32_t b;
    for (b = 0; b < 256; ++b) table[b] = (uint8_t)relu_one(p, byte_value(in.dtype, b));
    map_bytes(&in, table, &out);
    return PE_OK;
  }
  for (i = 0; i < n; ++i) pe_store_int(out.data, out.dtype, i, relu_one(p, pe_load_int(in.data, in.dtype, i)));
  return PE_OK;
}

/* ---- HARD_SWISH ------------------------------------------------------------------- */

pe_status pe_hard_swish_check(const pe_op_ctx *ctx) {
  const pe_hard_swish_params *p = (const pe_hard_swish_params *)ctx->params;
  pe_tensor in, out;
  const pe_status st = check_unary(ctx, 1, 1, &in, &out);
  if (st != PE_OK) return st;
  PE_CHECK((in.dtype == PE_INT8 || in.dtype == PE_UINT8) && out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(p->reluish_multiplier_fixedpoint_int16 >= INT16_MIN &&
               p->reluish_multiplier_fixedpoint_int16 <= INT16_MAX &&
               p->output_multiplier_fixedpoint_int16 >= INT16_MIN &&
               p->output_multiplier_fixedpoint_int16 <= INT16_MAX,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->reluish_multiplier_exponent >= -31 && p->reluish_multiplier_exponent <= 30,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(p->output_multiplier_exponent >= -31 && p->output_multiplier_exponent <= 0,
           PE_ERR_BAD_PARAMS);
  /* zero points of the 8-bit tensors: keeps x - input_zero_point and the output sum in int32 */
  PE_CHECK(p->input_zero_point >= pe_int_min(in.dtype) && p->input_zero_point <= pe_int_max(in.dtype) &&
               p->output_zero_point >= pe_int_min(out.dtype) && p->output_zero_point <= pe_int_max(out.dtype),
           PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* reference_ops SaturatingLeftShift: value * 2^amount saturated to int16. */
static int16_t sat_left_shift16(int16_t value, int amount) {
  const int64_t r = (int64_t)value * ((int64_t)1 << amount);
  return (int16_t)(r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : r));
}

/* reference_ops SaturatingDoublingHighMul: like VQDMULH, rounding toward zero. */
static int16_t sat_doubling_high_mul16(int16_t a, int16_t b) {
  if (a == b && a == INT16_MIN) return INT16_MAX;
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

/* reference_ops::HardSwish: x * relu6(x + 3) / 6 in 16-bit fixed point. */
static int32_t hard_swish_one(const pe_hard_swish_params *p, int32_t v_in, int32_t out_min, int32_t out_max) {
  const int16_t reluish_mult = (int16_t)p->reluish_multiplier_fixedpoint_int16;
  const int16_t output_mult = (int16_t)p->output_multiplier_fixedpoint_int16;
  const int32_t reluish_exp = p->reluish_multiplier_exponent;
  const int16_t input_value = (int16_t)(v_in - p->input_zero_point);
  /* x on a 2^7 finer scale, then on the (pre-shift) output scale */
  const int16_t input_hires = (int16_t)(input_value * (1 << 7));
  const int16_t input_on_preshift_output_scale = pe_fp_sat_rounding_doubling_high_mul16(input_hires, output_mult);
  /* "reluish" value: x rescaled so that 3.0 maps to 32768 (saturating), i.e. [-3, 3] to
     [-1, 1]; the last bit of a left shift is applied after the multiplier so that only
     saturation that matters happens */
  int16_t reluish = input_hires;
  int16_t preshift_output, output_value;
  if (reluish_exp > 0) reluish = sat_left_shift16(reluish, reluish_exp - 1);
  reluish = pe_fp_sat_rounding_doubling_high_mul16(reluish, reluish_mult);
  if (reluish_exp > 0) reluish = sat_left_shift16(reluish, 1);
  if (reluish_exp < 0) reluish = pe_fp_rounding_divide_by_pot16(reluish, -reluish_exp);
  /* [-1, 1] -> [0, 1] */
  reluish = (int16_t)((reluish + (1 << 15)) >> 1);
  preshift_output = sat_doubling_high_mul16(reluish, input_on_preshift_output_scale);
  output_value = pe_fp_rounding_divide_by_pot16(preshift_output, -p->output_multiplier_exponent);
  output_value = (int16_t)(output_value + p->output_zero_point);
  return pe_clamp(output_value, out_min, out_max);
}

pe_status pe_hard_swish__scalar(const pe_op_ctx *ctx) {
  const pe_hard_swish_params *p = (const pe_hard_swish_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&in), out_min = pe_int_min(out.dtype), out_max = pe_int_max(out.dtype);
  int32_t i;
  if (use_lut(&in)) {
    uint8_t table[256];
    uint32_t b;
    for (b = 0; b < 256; ++b) table[b] = (uint8_t)hard_swish_one(p, byte_value(in.dtype, b), out_min, out_max);
    map_bytes(&in, table, &out);
    return PE_OK;
  }
  for (i = 0; i < n; ++i)
    pe_store_int(out.data, out.dtype, i, hard_swish_one(p, pe_load_int(in.data, in.dtype, i), out_min, out_max));
  return PE_OK;
}

/* ---- LEAKY_RELU ------------------------------------------------------------------- */

pe_status pe_leaky_relu_check(const pe_op_ctx *ctx) {
  const pe_leaky_relu_params *p = (const pe_leaky_relu_params *)ctx->params;
  pe_tensor in, out;
  const pe_status st = check_unary(ctx, 1, 1, &in, &out);
  if (st != PE_OK) return st;
  PE_CHECK((in.dtype == PE_INT8 || in.dtype == PE_UINT8 || in.dtype == PE_INT16) &&
               out.dtype == in.dtype,
           PE_ERR_SHAPE);
  PE_CHECK(shift_ok(p->output_shift_alpha) && shift_ok(p->output_shift_identity), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* reference_ops::QuantizeLeakyRelu. */
static int32_t leaky_relu_one(const pe_leaky_relu_params *p, int32_t v_in, int32_t out_min, int32_t out_max) {
  const int32_t x = pe_fp_sub(v_in, p->input_zero_point);
  const int32_t scaled = x >= 0 ? pe_mbqm(x, p->output_multiplier_identity, p->output_shift_identity)
                                : pe_mbqm(x, p->output_multiplier_alpha, p->output_shift_alpha);
  return pe_clamp(pe_fp_add(p->output_zero_point, scaled), out_min, out_max);
}

pe_status pe_leaky_relu__scalar(const pe_op_ctx *ctx) {
  const pe_leaky_relu_params *p = (const pe_leaky_relu_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&in), out_min = pe_int_min(out.dtype), out_max = pe_int_max(out.dtype);
  int32_t i;
  if (use_lut(&in)) {
    uint8_t table[256];
    uint32_t b;
    for (b = 0; b < 256; ++b) table[b] = (uint8_t)leaky_relu_one(p, byte_value(in.dtype, b), out_min, out_max);
    map_bytes(&in, table, &out);
    return PE_OK;
  }
  for (i = 0; i < n; ++i)
    pe_store_int(out.data, out.dtype, i, leaky_relu_one(p, pe_load_int(in.data, in.dtype, i), out_min, out_max));
  return PE_OK;
}

/* ---- QUANTIZE and DEQUANTIZE ---------------------------------------------------------- */

/* Per-channel tables (inputs 1: float32 scales, 2: int32 zero points) along dimension
   `axis` of `t`, one entry per index of that dimension. */
static pe_status check_per_channel(const pe_op_ctx *ctx, const pe_tensor *t, int32_t axis) {
  pe_tensor scales = pe_input(ctx, 1), zero_points = pe_input(ctx, 2);
  PE_CHECK(ctx->n_inputs == 3, PE_ERR_BAD_PARAMS);
  PE_CHECK(axis < t->rank, PE_ERR_BAD_PARAMS);
  PE_CHECK(const_table_ok(&scales, PE_FLOAT32, t->dims[axis]) &&
               const_table_ok(&zero_points, PE_INT32, t->dims[axis]),
           PE_ERR_SHAPE);
  return PE_OK;
}

/* Elements per step of dimension `axis` of `t`: flat element i is in channel
   (i / inner) % dims[axis]. */
static int32_t inner_size(const pe_tensor *t, int32_t axis) {
  int32_t inner = 1, d;
  for (d = axis + 1; d < t->rank; ++d) inner *= t->dims[d];
  return inner;
}

pe_status pe_quantize_check(const pe_op_ctx *ctx) {
  const pe_quantize_params *p = (const pe_quantize_params *)ctx->params;
  pe_tensor in, out;
  const pe_status st = check_unary(ctx, 1, 3, &in, &out);
  if (st != PE_OK) return st;
  PE_CHECK(out.dtype == PE_INT8 || out.dtype == PE_UINT8 || out.dtype == PE_INT16 ||
               out.dtype == PE_INT32,
           PE_ERR_SHAPE);
  if (in.dtype == PE_FLOAT32) {
    PE_CHECK(out.dtype != PE_INT32, PE_ERR_SHAPE);
    if (p->axis >= 0) return check_per_channel(ctx, &out, p->axis);
    PE_CHECK(ctx->n_inputs == 1 && p->axis == -1, PE_ERR_BAD_PARAMS);
    return PE_OK;
  }
  PE_CHECK(is_int_type(in.dtype), PE_ERR_SHAPE);
  PE_CHECK(ctx->n_inputs == 1 && p->axis == -1 && shift_ok(p->shift), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* float -> int: reference_ops::AffineQuantize / PerChannelQuantize,
   q = round(x / scale) + zero_point in float, clamped; int -> int: reference_ops::Requantize. */
pe_status pe_quantize__scalar(const pe_op_ctx *ctx) {
  const pe_quantize_params *p = (const pe_quantize_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&in);
  int32_t out_min, out_max, i;
  if (n == 0) return PE_OK;
  out_min = pe_int_min(out.dtype);
  out_max = pe_int_max(out.dtype);
  if (in.dtype == PE_FLOAT32) {
    const float *x = (const float *)in.data;
    const float *scales = p->axis >= 0 ? (const float *)pe_input(ctx, 1).data : NULL;
    const int32_t *zero_points = p->axis >= 0 ? (const int32_t *)pe_input(ctx, 2).data : NULL;
    const int32_t inner = p->axis >= 0 ? inner_size(&out, p->axis) : 1;
    for (i = 0; i < n; ++i) {
      const int32_t ch = p->axis >= 0 ? (i / inner) % out.dims[p->axis] : 0;
      const float scale = scales ? scales[ch] : out.scale;
      const int32_t zero_point = zero_points ? zero_points[ch] : out.zero_point;
      const float q = x[i] / scale;
      const int32_t v = pe_fp_add(f32_to_i32(round_half_away_f32(q)), zero_point);
      pe_store_int(out.data, out.dtype, i, pe_clamp(v, out_min, out_max));
    }
    return PE_OK;
  }
  for (i = 0; i < n; ++i) {
    const int32_t x = pe_fp_sub(pe_load_int(in.data, in.dtype, i), p->input_zero_point);
    const int32_t v = pe_fp_add(pe_mbqm(x, p->multiplier, p->shift), p->output_zero_point);
    pe_store_int(out.data, out.dtype, i, pe_clamp(v, out_min, out_max));
  }
  return PE_OK;
}

pe_status pe_dequantize_check(const pe_op_ctx *ctx) {
  const pe_quantize_params *p = (const pe_quantize_params *)ctx->params;
  pe_tensor in, out;
  const pe_status st = check_unary(ctx, 1, 3, &in, &out);
  if (st != PE_OK) return st;
  PE_CHECK((in.dtype == PE_INT8 || in.dtype == PE_UINT8 || in.dtype == PE_INT16) &&
               out.dtype == PE_FLOAT32,
           PE_ERR_SHAPE);
  if (p->axis >= 0) return check_per_channel(ctx, &in, p->axis);
  PE_CHECK(ctx->n_inputs == 1 && p->axis == -1, PE_ERR_BAD_PARAMS);
  return PE_OK;
}

/* reference_ops::Dequantize: per-tensor in double, (float)(scale * (x - zero_point));
   PerChannelDequantize: in float, scale[c] * (float)(x - zero_point[c]). */
pe_status pe_dequantize__scalar(const pe_op_ctx *ctx) {
  const pe_quantize_params *p = (const pe_quantize_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  float *y = (float *)out.data;
  const int32_t n = pe_elems(&in);
  int32_t i;
  if (n == 0) return PE_OK; /* (inner_size needs a non-empty tensor to fit int32) */
  if (p->axis >= 0) {
    const float *scales = (const float *)pe_input(ctx, 1).data;
    const int32_t *zero_points = (const int32_t *)pe_input(ctx, 2).data;
    const int32_t inner = inner_size(&in, p->axis);
    for (i = 0; i < n; ++i) {
      const int32_t ch = (i / inner) % in.dims[p->axis];
      const float diff = (float)pe_fp_sub(pe_load_int(in.data, in.dtype, i), zero_points[ch]);
      const float v = scales[ch] * diff;
      y[i] = v;
    }
    return PE_OK;
  }
  for (i = 0; i < n; ++i) {
    const double diff = (double)pe_fp_sub(pe_load_int(in.data, in.dtype, i), in.zero_point);
    y[i] = (float)((double)in.scale * diff);
  }
  return PE_OK;
}
