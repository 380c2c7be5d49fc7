/*
 * UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer: the reference for TFLite's
 * lstm_eval.cc EvalInteger8x8_16 / LstmStepInteger8x8_16 with the portable
 * tensor_utils (int8 activations and weights, int16 cell state and gates).
 *
 * Per step and gate g: gate = sat16(mbqm(x.W_x + b_x)) then
 * gate = sat16(mbqm(h.W_h + b_h) + gate) (Q3.12), + peephole, layer norm, then
 * sigmoid / tanh in int16 gemmlowp fixed point (Q0.15 results). The effective
 * biases b_x, b_h (gate bias and zero-point row sums folded in) and all
 * multipliers come precomputed from the lowering, as TFLite computes them in Prepare.
 */
#include "lstm.h"

#include "fixedpoint.h"

enum {
  IN_INPUT = 0,
  IN_INPUT_W = 1,      /* 1..4: input-to-{input,forget,cell,output} weights */
  IN_RECURRENT_W = 5,  /* 5..8 */
  IN_PEEPHOLE_W = 9,   /* 9..11: cell-to-{input,forget,output} */
  IN_GATE_BIAS = 12,   /* 12..15 */
  IN_PROJ_W = 16,
  IN_PROJ_BIAS = 17,
  IN_OUTPUT_STATE = 18,
  IN_CELL_STATE = 19,
  IN_LAYER_NORM_W = 20, /* 20..23 */
  IN_EFFECTIVE_BIAS = 24,
  IN_PROJ_EFFECTIVE_BIAS = 25,
  N_INPUTS = 26
};
enum { GATE_INPUT = 0, GATE_FORGET = 1, GATE_CELL = 2, GATE_OUTPUT = 3 };

/* ---------------------------------------------------------------------------
 * gemmlowp fixed point on int16 raw values (FixedPoint<int16_t, N>), as TFLite's
 * ApplySigmoid / ApplyTanh instantiate it. Additions wrap (gemmlowp's Add on int16
 * truncates), except where gemmlowp saturates.
 * ------------------------------------------------------------------------ */

static int16_t fx16_add(int32_t a, int32_t b) { return (int16_t)(a + b); }

static int16_t fx16_mul(int16_t a, int16_t b) { /* SaturatingRoundingDoublingHighMul */
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return (int16_t)((ab + nudge) / (1 << 15));
}

static int16_t fx16_sat_add(int16_t a, int16_t b) {
  return (int16_t)pe_clamp((int32_t)a + b, INT16_MIN, INT16_MAX);
}

static int16_t fx16_rounding_half_sum(int16_t a, int16_t b) {
  const int32_t sum = (int32_t)a + b;
  return (int16_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* SaturatingRoundingMultiplyByPOT<exponent> on int16. */
static int16_t fx16_mul_pot(int16_t x, int exponent) {
  if (exponent < 0) return (int16_t)pe_rounding_divide_by_pot(x, -exponent);
  if (exponent > 0) {
    const int32_t threshold = (1 << (15 - exponent)) - 1;
    if (x > threshold) return INT16_MAX;
    if (x < -threshold) return INT16_MIN;
    return (int16_t)(x * (1 << exponent));
  }
  return x;
}

/* A 32-bit Q0.31 gemmlowp constant rounded to Q0.15 (RescaleConstantInitializer). */
static int16_t fx16_const(int32_t q31) { return (int16_t)pe_rounding_divide_by_pot(q31, 16); }

/* exp(a) for a in [-1/4, 0), Q0.15 in and out. */
static int16_t fx16_exp_quarter(int16_t a) {
  const int16_t constant_term = fx16_const(1895147668);   /* exp(-1/8) */
  const int16_t one_third = fx16_const(715827883);
  const int16_t x = fx16_add(a, 1 << 12);                  /* a + 1/8 */
  const int16_t x2 = fx16_mul(x, x);
  const int16_t x3 = fx16_mul(x2, x);
  const int16_t x4 = fx16_mul(x2, x2);
  const int16_t x4_over_4 = fx16_mul_pot(x4, -2);
  const int16_t poly = fx16_mul_pot(fx16_add(fx16_mul(fx16_add(x4_over_4, x3), one_third), x2), -1);
  return fx16_sat_add(constant_term, fx16_mul(constant_term, fx16_add(x, poly)));
}

/* exp(a) for a <= 0 given with `ib` integer bits; result Q0.15. */
static int16_t fx16_exp_on_negative_values(int16_t a, int ib) {
  static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                    39332535,   720401,     242}; /* exp(-2^k), k = -2..4 */
  const int fb = 15 - ib;
  const int16_t one_quarter = (int16_t)(1 << (fb - 2));
  const int16_t a_mod_quarter_minus_quarter = fx16_add(a & (one_quarter - 1), -one_quarter);
  const int16_t remainder = fx16_add(a_mod_quarter_minus_quarter, -a);
  int16_t result = fx16_exp_quarter(fx16_mul_pot(a_mod_quarter_minus_quarter, ib));
  int k;
  for (k = -2; k <= 4; ++k) {
    if (ib > k && (remainder & (1 << (fb + k))) != 0) result = fx16_mul(result, fx16_const(barrel[k + 2]));
  }
  if (ib > 5 && a < fx16_const(-(1 << (36 - ib)))) result = 0; /* below -32: exp is 0 */
  return a == 0 ? INT16_MAX : result;
}

/* Newton-Raphson 1 / (1 + a) for a in [0, 1), as 2x in Q2.13 (before the final rescale). */
static int16_t fx16_half_reciprocal_q2(int16_t a) {
  const int16_t half_denominator = fx16_rounding_half_sum(a, INT16_MAX);
  const int16_t one_q2 = 1 << 13;
  int16_t x = fx16_add(fx16_const(1515870810), fx16_mul(half_denominator, fx16_const(-1010580540)));
  int i;
  for (i = 0; i < 3; ++i) {
    const int16_t one_minus = fx16_add(one_q2, -fx16_mul(half_denominator, x));
    x = fx16_add(x, fx16_mul_pot(fx16_mul(x, one_minus), 2));
  }
  return x;
}

/* gemmlowp::tanh for a raw value with `ib` integer bits; Q0.15 result. */
static int16_t fx16_tanh(int16_t a, int ib) {
  const int16_t n = a < 0 ? a : (int16_t)-a;
  /* (1 - e) / (1 + e) with e = exp(2n) */
  const int16_t e = fx16_exp_on_negative_values(n, ib + 1);
  const int16_t t = fx16_mul_pot(fx16_add(fx16_half_reciprocal_q2(e), -(1 << 13)), 2);
  if (a == 0) return 0;
  return a < 0 ? (int16_t)-t : t;
}

/* gemmlowp::logistic for a raw value with `ib` integer bits; Q0.15 result. */
static int16_t fx16_logistic(int16_t a, int ib) {
  const int16_t abs_a = a > 0 ? a : (int16_t)-a;
  const int16_t e = fx16_exp_on_negative_values((int16_t)-abs_a, ib);
  const int16_t positive = fx16_mul_pot(fx16_half_reciprocal_q2(e), 1); /* 1 / (1 + e) */
  if (a == 0) return fx16_const(1 << 30);
  return a > 0 ? positive : (int16_t)(INT16_MAX - positive);
}

/* ---------------------------------------------------------------------------
 * The step (TFLite's portable tensor_utils, in the order LstmStepInteger8x8_16 runs them).
 * ------------------------------------------------------------------------ */

typedef struct {
  const pe_lstm_params *p;
  int32_t n_input, n_cell, n_output;
  const int8_t *input_w[4], *recurrent_w[4]; /* [n_cell, n_input], [n_cell, n_output] */
  const int16_t *peephole_w[4];              /* [n_cell]; NULL for the cell gate */
  const int16_t *layer_norm_w[4];            /* [n_cell] */
  const int32_t *gate_bias[4];               /* [n_cell], layer norm only */
  const int32_t *effective_bias;             /* [8, n_cell] */
  const int8_t *proj_w;                      /* [n_output, n_cell] */
  const int32_t *proj_bias;                  /* [n_output] effective */
  int16_t *gate[4];                          /* scratch [n_batch, n_cell] each */
  int8_t *hidden;                            /* scratch [n_batch, n_cell] */
} lstm_state;

/* acc + row . vec with int32 wrap-around, as TFLite's int32 accumulation. */
static int32_t dot_int8(int32_t acc, const int8_t *row, const int8_t *vec, int32_t n) {
  uint32_t sum = (uint32_t)acc;
  int32_t k;
  for (k = 0; k < n; ++k) sum += (uint32_t)((int32_t)row[k] * vec[k]);
  return (int32_t)sum;
}

/* MatrixBatchVectorMultiplyAccumulate, int16 result: out = sat16(mbqm(bias + W.v) + out). */
static void matvec_acc_int16(const int8_t *vec, const int32_t *bias, const int8_t *w, int32_t mult,
                             int32_t shift, int32_t n_batch, int32_t n_in, int32_t n_out, int16_t *out) {
  int32_t b, r;
  for (b = 0; b < n_batch; ++b) {
    for (r = 0; r < n_out; ++r) {
      const int32_t acc = dot_int8(bias[r], w + (size_t)r * n_in, vec + (size_t)b * n_in, n_in);
      int16_t *o = &out[(size_t)b * n_out + r];
      *o = (int16_t)pe_clamp(pe_mbqm(acc, mult, shift) + *o, INT16_MIN, INT16_MAX);
    }
  }
}

static void layer_norm(const lstm_state *s, int g, int16_t *gate, int32_t n_batch) {
  const int32_t n = s->n_cell;
  const int16_t *w = s->layer_norm_w[g];
  const int32_t *bias = s->gate_bias[g];
  int32_t b, j;
  for (b = 0; b < n_batch; ++b) {
    int16_t *v = gate + (size_t)b * n;
    int64_t sum = 0, sum_sq = 0;
    int32_t mean, variance, inv_mult;
    int inv_shift;
    for (j = 0; j < n; ++j) {
      sum += v[j];
      sum_sq += (int32_t)v[j] * v[j];
    }
    /* Fixed point with 10 extra bits; the 2^20 / n step is TFLite's (exact only for POT n). */
    mean = (int32_t)(sum * 1024 / n);
    variance = (int32_t)((int64_t)((uint64_t)sum_sq * (uint64_t)((1 << 20) / n) -
                                   (uint64_t)((int64_t)mean * mean)) /
                         (1 << 20));
    if (variance < 1) variance = s->p->variance_guard[g];
    pe_fp_inv_sqrt_multiplier_exp(variance, &inv_mult, &inv_shift);
    for (j = 0; j < n; ++j) {
      const int32_t rescaled = pe_mbqm(1024 * v[j] - mean, inv_mult, inv_shift);
      /* TFLite computes rescaled * w + bias in int32 (wrapping) before widening */
      const int64_t val3 = (int32_t)((uint32_t)rescaled * (uint32_t)(int32_t)w[j] + (uint32_t)bias[j]);
      const int32_t val4 = (int32_t)((val3 > 0 ? val3 + 512 : val3 - 512) / 1024);
      const int32_t val5 = pe_mbqm(val4, s->p->layer_norm_mult[g], s->p->layer_norm_shift[g] + 12);
      v[j] = (int16_t)pe_clamp(val5, INT16_MIN, INT16_MAX);
    }
  }
}

/* CalculateLstmGateInteger8x8_16 for gate g. */
static void compute_gate(const lstm_state *s, int g, const int8_t *input, const int8_t *output_state,
                         const int16_t *cell_state, int32_t n_batch) {
  const pe_lstm_params *p = s->p;
  const int32_t n_cell = s->n_cell;
  const int32_t count = n_batch * n_cell;
  int16_t *gate = s->gate[g];
  int32_t i;
  memset(gate, 0, (size_t)count * sizeof(int16_t));
  matvec_acc_int16(input, s->effective_bias + (size_t)(2 * g) * n_cell, s->input_w[g], p->input_mult[g],
                   p->input_shift[g], n_batch, s->n_input, n_cell, gate);
  matvec_acc_int16(output_state, s->effective_bias + (size_t)(2 * g + 1) * n_cell, s->recurrent_w[g],
                   p->recurrent_mult[g], p->recurrent_shift[g], n_batch, s->n_output, n_cell, gate);
  if (s->peephole_w[g] != NULL) {
    /* TFLite passes n_output as the vector length here, walking the first
       n_batch * n_output entries of cell state and gate (check: n_output <= n_cell). */
    const int32_t v_size = s->n_output;
    for (i = 0; i < n_batch * v_size; ++i) {
      const int32_t prod = pe_mbqm((int32_t)s->peephole_w[g][i % v_size] * cell_state[i], p->cell_mult[g],
                                   p->cell_shift[g]);
      gate[i] = (int16_t)pe_clamp(prod + gate[i], INT16_MIN, INT16_MAX);
    }
  }
  if (p->use_layer_norm) layer_norm(s, g, gate, n_batch);
  for (i = 0; i < count; ++i) {
    gate[i] = g == GATE_CELL ? fx16_tanh(gate[i], 3) : fx16_logistic(gate[i], 3);
  }
}

/* UpdateLstmCellInteger: c = sat16(f * c >> 15 + i * g >> (30 + cell_scale)), then clip. */
static void update_cell(const lstm_state *s, int16_t *cell_state, int32_t count) {
  const pe_lstm_params *p = s->p;
  const int shift = 30 + p->cell_scale_log2;
  int32_t i;
  for (i = 0; i < count; ++i) {
    const int16_t f = s->gate[GATE_FORGET][i];
    const int16_t in = p->use_cifg ? (int16_t)(INT16_MAX - f) : s->gate[GATE_INPUT][i];
    const int16_t kept = (int16_t)pe_rounding_divide_by_pot((int32_t)f * cell_state[i], 15);
    const int16_t added = (int16_t)pe_rounding_divide_by_pot((int32_t)in * s->gate[GATE_CELL][i], shift);
    int32_t c = pe_clamp((int32_t)kept + added, INT16_MIN, INT16_MAX);
    if (p->cell_clip > 0) c = pe_clamp(c, -p->cell_clip, p->cell_clip);
    cell_state[i] = (int16_t)c;
  }
}

/* CalculateLstmOutputInteger8x8_16: h = o * tanh(c), optionally projected. */
static void compute_output(const lstm_state *s, const int16_t *cell_state, int8_t *output_state,
                           int32_t n_batch) {
  const pe_lstm_params *p = s->p;
  const int32_t count = n_batch * s->n_cell;
  int16_t *tanh_cell = s->gate[GATE_INPUT]; /* the input gate is consumed by now */
  int8_t *hidden = p->use_projection ? s->hidden : output_state;
  /* TFLite's CwiseMul adds its zero-point argument, which is -hidden_zp before a projection
     (whose effective bias is built with +hidden_zp, so the pair is consistent) and +hidden_zp
     when the hidden state is the output state. */
  int32_t i, b, r;
  for (i = 0; i < count; ++i) tanh_cell[i] = fx16_tanh(cell_state[i], 15 + p->cell_scale_log2);
  for (i = 0; i < count; ++i) {
    const int32_t v = pe_mbqm((int32_t)s->gate[GATE_OUTPUT][i] * tanh_cell[i], p->hidden_mult, p->hidden_shift);
    hidden[i] = (int8_t)pe_clamp(p->use_projection ? v - p->hidden_zp : v + p->hidden_zp, -128, 127);
  }
  if (!p->use_projection) return;
  for (b = 0; b < n_batch; ++b) {
    for (r = 0; r < s->n_output; ++r) {
      const int32_t acc = dot_int8(s->proj_bias[r], s->proj_w + (size_t)r * s->n_cell,
                                   hidden + (size_t)b * s->n_cell, s->n_cell);
      int32_t v = pe_clamp(pe_mbqm(acc, p->proj_mult, p->proj_shift) + p->output_state_zp, -128, 127);
      if (p->proj_clip > 0) v = pe_clamp(v, -p->proj_clip, p->proj_clip);
      output_state[(size_t)b * s->n_output + r] = (int8_t)v;
    }
  }
}

/* One time step for n_batch contiguous batch rows. */
static void lstm_step(const lstm_state *s, const int8_t *input, int32_t n_batch, int8_t *output_state,
                      int16_t *cell_state, int8_t *output) {
  if (!s->p->use_cifg) compute_gate(s, GATE_INPUT, input, output_state, cell_state, n_batch);
  compute_gate(s, GATE_FORGET, input, output_state, cell_state, n_batch);
  compute_gate(s, GATE_CELL, input, output_state, cell_state, n_batch);
  update_cell(s, cell_state, n_batch * s->n_cell);
  compute_gate(s, GATE_OUTPUT, input, output_state, cell_state, n_batch);
  compute_output(s, cell_state, output_state, n_batch);
  memcpy(output, output_state, (size_t)n_batch * s->n_output);
}

/* ---------------------------------------------------------------------------
 * check and eval
 * ------------------------------------------------------------------------ */

static int is_tensor(const pe_tensor *t, int32_t dtype, int32_t rank, int32_t d0, int32_t d1) {
  if (t->index < 0 || t->dtype != dtype || t->rank != rank) return 0;
  if (rank >= 1 && t->dims[0] != d0) return 0;
  if (rank >= 2 && t->dims[1] != d1) return 0;
  return 1;
}

/* The tensor has bytes at run time (not a shape-only record). */
static int has_storage(const pe_op_ctx *ctx, const pe_tensor *t) {
  return t->index >= 0 && ctx->m->tensors[t->index].storage != PE_STORE_NONE;
}

static int mult_ok(int32_t mult, int32_t shift) { return mult >= 0 && shift >= -31 && shift <= 30; }

static int is_flag(int32_t v) { return v == 0 || v == 1; }

/* Sizes from the input-to-output and recurrent-to-output weights. */
static void lstm_dims(const pe_op_ctx *ctx, int32_t *n_batch, int32_t *n_time, int32_t *n_cell,
                      int32_t *n_output) {
  const pe_lstm_params *p = (const pe_lstm_params *)ctx->params;
  pe_tensor x = pe_input(ctx, IN_INPUT), wo = pe_input(ctx, IN_INPUT_W + GATE_OUTPUT),
            ro = pe_input(ctx, IN_RECURRENT_W + GATE_OUTPUT);
  *n_batch = p->time_major ? x.dims[1] : x.dims[0];
  *n_time = p->time_major ? x.dims[0] : x.dims[1];
  *n_cell = wo.dims[0];
  *n_output = ro.dims[1];
}

pe_status pe_unidirectional_sequence_lstm_check(const pe_op_ctx *ctx) {
  const pe_lstm_params *p = (const pe_lstm_params *)ctx->params;
  pe_tensor x = pe_input(ctx, IN_INPUT), y = pe_output(ctx, 0), wo = pe_input(ctx, IN_INPUT_W + GATE_OUTPUT),
            ro = pe_input(ctx, IN_RECURRENT_W + GATE_OUTPUT), hs = pe_input(ctx, IN_OUTPUT_STATE),
            cs = pe_input(ctx, IN_CELL_STATE);
  pe_tensor t;
  int32_t n_batch, n_time, n_input, n_cell, n_output, g;
  uint64_t scratch;

  PE_CHECK(ctx->n_inputs == N_INPUTS && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(is_flag(p->time_major) && is_flag(p->use_cifg) && is_flag(p->use_peephole) &&
               is_flag(p->use_layer_norm) && is_flag(p->use_projection),
           PE_ERR_BAD_PARAMS);
  PE_CHECK(x.index >= 0 && x.dtype == PE_INT8 && x.rank == 3 && has_storage(ctx, &x), PE_ERR_SHAPE);
  PE_CHECK(wo.index >= 0 && wo.rank == 2 && ro.index >= 0 && ro.rank == 2, PE_ERR_SHAPE);
  lstm_dims(ctx, &n_batch, &n_time, &n_cell, &n_output);
  n_input = x.dims[2];
  PE_CHECK(n_input >= 1 && n_cell >= 1 && n_output >= 1, PE_ERR_SHAPE);
  /* without a projection the hidden state (n_cell wide) is the output state */
  PE_CHECK(p->use_projection || n_output == n_cell, PE_ERR_SHAPE);

  for (g = 0; g < 4; ++g) {
    const int present = g != GATE_INPUT || !p->use_cifg;
    pe_tensor wx = pe_input(ctx, IN_INPUT_W + g), wh = pe_input(ctx, IN_RECURRENT_W + g);
    pe_tensor bias = pe_input(ctx, IN_GATE_BIAS + g), ln = pe_input(ctx, IN_LAYER_NORM_W + g);
    if (!present) {
      PE_CHECK(wx.index < 0 && wh.index < 0 && bias.index < 0 && ln.index < 0, PE_ERR_SHAPE);
      continue;
    }
    PE_CHECK(is_tensor(&wx, PE_INT8, 2, n_cell, n_input) && has_storage(ctx, &wx), PE_ERR_SHAPE);
    PE_CHECK(is_tensor(&wh, PE_INT8, 2, n_cell, n_output) && has_storage(ctx, &wh), PE_ERR_SHAPE);
    PE_CHECK(mult_ok(p->input_mult[g], p->input_shift[g]) && mult_ok(p->recurrent_mult[g], p->recurrent_shift[g]),
             PE_ERR_BAD_PARAMS);
    if (p->use_layer_norm) {
      PE_CHECK(is_tensor(&ln, PE_INT16, 1, n_cell, 0) && has_storage(ctx, &ln), PE_ERR_SHAPE);
      PE_CHECK(is_tensor(&bias, PE_INT32, 1, n_cell, 0) && has_storage(ctx, &bias), PE_ERR_SHAPE);
      /* the kernel applies layer_norm_shift + 12 */
      PE_CHECK(p->layer_norm_shift[g] >= -43 && p->layer_norm_shift[g] <= 18 &&
                   mult_ok(p->layer_norm_mult[g], p->layer_norm_shift[g] + 12),
               PE_ERR_BAD_PARAMS);
    } else {
      PE_CHECK(ln.index < 0 && bias.index < 0, PE_ERR_SHAPE);
    }
  }
  for (g = 0; g < 3; ++g) { /* peephole weights: cell-to-{input, forget, output} */
    const int gate = g == 2 ? GATE_OUTPUT : g;
    t = pe_input(ctx, IN_PEEPHOLE_W + g);
    if (p->use_peephole && (gate != GATE_INPUT || !p->use_cifg)) {
      PE_CHECK(is_tensor(&t, PE_INT16, 1, n_cell, 0) && has_storage(ctx, &t), PE_ERR_SHAPE);
      PE_CHECK(mult_ok(p->cell_mult[gate], p->cell_shift[gate]), PE_ERR_BAD_PARAMS);
    } else {
      PE_CHECK(t.index < 0, PE_ERR_SHAPE);
    }
  }
  /* the peephole walks n_output entries per batch row (see compute_gate) */
  PE_CHECK(!p->use_peephole || n_output <= n_cell, PE_ERR_SHAPE);

  t = pe_input(ctx, IN_PROJ_W);
  if (p->use_projection) {
    pe_tensor pb = pe_input(ctx, IN_PROJ_EFFECTIVE_BIAS);
    PE_CHECK(is_tensor(&t, PE_INT8, 2, n_output, n_cell) && has_storage(ctx, &t), PE_ERR_SHAPE);
    PE_CHECK(is_tensor(&pb, PE_INT32, 1, n_output, 0) && has_storage(ctx, &pb), PE_ERR_SHAPE);
    PE_CHECK(mult_ok(p->proj_mult, p->proj_shift) && p->proj_clip >= 0 && p->proj_clip <= 127, PE_ERR_BAD_PARAMS);
  } else {
    PE_CHECK(t.index < 0 && pe_input(ctx, IN_PROJ_EFFECTIVE_BIAS).index < 0, PE_ERR_SHAPE);
  }
  PE_CHECK(pe_input(ctx, IN_PROJ_BIAS).index < 0, PE_ERR_SHAPE); /* folded into input 25 */
  t = pe_input(ctx, IN_EFFECTIVE_BIAS);
  PE_CHECK(is_tensor(&t, PE_INT32, 2, 8, n_cell) && has_storage(ctx, &t), PE_ERR_SHAPE);

  /* states may be 1-D or 2-D in TFLite: only the element count matters */
  PE_CHECK(hs.index >= 0 && hs.dtype == PE_INT8 && has_storage(ctx, &hs) &&
               (int64_t)pe_elems(&hs) == (int64_t)n_batch * n_output,
           PE_ERR_SHAPE);
  PE_CHECK(cs.index >= 0 && cs.dtype == PE_INT16 && has_storage(ctx, &cs) &&
               (int64_t)pe_elems(&cs) == (int64_t)n_batch * n_cell,
           PE_ERR_SHAPE);
  PE_CHECK(y.index >= 0 && y.dtype == PE_INT8 && y.rank == 3 && has_storage(ctx, &y) &&
               y.dims[0] == x.dims[0] && y.dims[1] == x.dims[1] && y.dims[2] == n_output,
           PE_ERR_SHAPE);

  PE_CHECK(mult_ok(p->hidden_mult, p->hidden_shift), PE_ERR_BAD_PARAMS);
  /* tanh(cell) runs with 15 + log2(cell scale) integer bits, TFLite handles 0..6 */
  PE_CHECK(p->cell_scale_log2 >= -15 && p->cell_scale_log2 <= -9, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->cell_clip >= 0 && p->cell_clip <= 32767, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->hidden_zp >= -128 && p->hidden_zp <= 127 && p->output_state_zp >= -128 && p->output_state_zp <= 127,
           PE_ERR_BAD_PARAMS);

  /* 4 int16 gate buffers + 1 int8 hidden buffer, each [n_batch, n_cell] */
  scratch = (uint64_t)n_batch * (uint64_t)n_cell * 9u;
  PE_CHECK(ctx->op->scratch_size >= scratch && ctx->op->scratch % 2 == 0, PE_ERR_BAD_PARAMS);
  (void)n_time;
  return PE_OK;
}

pe_status pe_unidirectional_sequence_lstm__scalar(const pe_op_ctx *ctx) {
  const pe_lstm_params *p = (const pe_lstm_params *)ctx->params;
  const int8_t *input = (const int8_t *)pe_input(ctx, IN_INPUT).data;
  int8_t *output = (int8_t *)pe_output(ctx, 0).data;
  int8_t *output_state = (int8_t *)pe_input(ctx, IN_OUTPUT_STATE).data;
  int16_t *cell_state = (int16_t *)pe_input(ctx, IN_CELL_STATE).data;
  lstm_state s;
  int32_t n_batch, n_time, b, t, g;
  size_t n;

  memset(&s, 0, sizeof(s));
  s.p = p;
  lstm_dims(ctx, &n_batch, &n_time, &s.n_cell, &s.n_output);
  s.n_input = pe_input(ctx, IN_INPUT).dims[2];
  for (g = 0; g < 4; ++g) {
    s.input_w[g] = (const int8_t *)pe_input(ctx, IN_INPUT_W + g).data;
    s.recurrent_w[g] = (const int8_t *)pe_input(ctx, IN_RECURRENT_W + g).data;
    s.layer_norm_w[g] = (const int16_t *)pe_input(ctx, IN_LAYER_NORM_W + g).data;
    s.gate_bias[g] = (const int32_t *)pe_input(ctx, IN_GATE_BIAS + g).data;
  }
  if (p->use_peephole) {
    s.peephole_w[GATE_INPUT] = (const int16_t *)pe_input(ctx, IN_PEEPHOLE_W + 0).data;
    s.peephole_w[GATE_FORGET] = (const int16_t *)pe_input(ctx, IN_PEEPHOLE_W + 1).data;
    s.peephole_w[GATE_OUTPUT] = (const int16_t *)pe_input(ctx, IN_PEEPHOLE_W + 2).data;
  }
  s.effective_bias = (const int32_t *)pe_input(ctx, IN_EFFECTIVE_BIAS).data;
  s.proj_w = (const int8_t *)pe_input(ctx, IN_PROJ_W).data;
  s.proj_bias = (const int32_t *)pe_input(ctx, IN_PROJ_EFFECTIVE_BIAS).data;
  n = (size_t)n_batch * (size_t)s.n_cell;
  if (n == 0 || n_time == 0) return PE_OK;
  for (g = 0; g < 4; ++g) s.gate[g] = (int16_t *)(void *)(ctx->scratch + (size_t)g * n * sizeof(int16_t));
  s.hidden = (int8_t *)(ctx->scratch + 4 * n * sizeof(int16_t));

  if (p->time_major) {
    /* all batch rows advance together through time */
    for (t = 0; t < n_time; ++t) {
      lstm_step(&s, input + (size_t)t * n_batch * s.n_input, n_batch, output_state, cell_state,
                output + (size_t)t * n_batch * s.n_output);
    }
  } else {
    /* batch-major: TFLite runs each batch row through its whole sequence alone */
    for (b = 0; b < n_batch; ++b) {
      for (t = 0; t < n_time; ++t) {
        const size_t row = (size_t)b * n_time + t;
        lstm_step(&s, input + row * s.n_input, 1, output_state + (size_t)b * s.n_output,
                  cell_state + (size_t)b * s.n_cell, output + row * s.n_output);
      }
    }
  }
  return PE_OK;
}
