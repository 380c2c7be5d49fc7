/* Sequence-model kernels: integer SVDF, resource variables (READ_VARIABLE, ASSIGN_VARIABLE)
   and CALL_ONCE. Scalar reference versions, bit-exact with TFLite 2.14's reference kernels. */
#include "sequence.h"

/* ---- helpers ------------------------------------------------------------------------- */

static uint32_t storage_of(const pe_op_ctx *ctx, int32_t index) {
  return ctx->m->tensors[index].storage;
}

/* A tensor the kernel may read at run time (constants, activations, state). */
static int has_data(const pe_op_ctx *ctx, int32_t index) {
  return index >= 0 && storage_of(ctx, index) != PE_STORE_NONE;
}

/* A tensor the kernel may write (never the blob's constants). */
static int writable(const pe_op_ctx *ctx, int32_t index) {
  uint32_t s;
  if (index < 0) return 0;
  s = storage_of(ctx, index);
  return s == PE_STORE_ARENA || s == PE_STORE_STATE;
}

static int shift_ok(int32_t shift) { return shift >= -31 && shift <= 31; }

/* int32 addition with two's-complement wrap-around, as TFLite's int32 accumulators behave
   (their overflow is formally undefined in C++ but wraps on every target TFLite builds for). */
static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

/* ---- SVDF ----------------------------------------------------------------------------- */

pe_status pe_svdf_check(const pe_op_ctx *ctx) {
  const pe_svdf_params *p = (const pe_svdf_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), wf = pe_input(ctx, 1), wt = pe_input(ctx, 2);
  pe_tensor bias = pe_input(ctx, 3), st = pe_input(ctx, 4), out = pe_output(ctx, 0);
  int32_t batch, n_input, n_filter, n_memory, n_unit;

  PE_CHECK(ctx->n_inputs == 5 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(has_data(ctx, in.index) && has_data(ctx, wf.index) && has_data(ctx, wt.index), PE_ERR_SHAPE);
  PE_CHECK(writable(ctx, st.index) && writable(ctx, out.index), PE_ERR_SHAPE);
  PE_CHECK(bias.index < 0 || has_data(ctx, bias.index), PE_ERR_SHAPE);
  PE_CHECK(in.dtype == PE_INT8 && wf.dtype == PE_INT8 && wt.dtype == PE_INT16 && st.dtype == PE_INT16 &&
               out.dtype == PE_INT8 && (bias.index < 0 || bias.dtype == PE_INT32),
           PE_ERR_SHAPE);
  PE_CHECK(in.rank == 2 && wf.rank == 2 && wt.rank == 2 && st.rank == 2 && out.rank == 2, PE_ERR_SHAPE);

  batch = in.dims[0];
  n_input = in.dims[1];
  n_filter = wf.dims[0];
  n_memory = wt.dims[1];
  PE_CHECK(batch > 0 && n_input > 0 && n_filter > 0 && n_memory > 0, PE_ERR_SHAPE);
  PE_CHECK(wf.dims[1] == n_input && wt.dims[0] == n_filter, PE_ERR_SHAPE);
  PE_CHECK(p->rank > 0 && n_filter % p->rank == 0, PE_ERR_BAD_PARAMS);
  n_unit = n_filter / p->rank;
  PE_CHECK(bias.index < 0 || (bias.rank == 1 && bias.dims[0] == n_unit), PE_ERR_SHAPE);
  PE_CHECK(st.dims[0] == batch && (int64_t)st.dims[1] == (int64_t)n_memory * n_filter, PE_ERR_SHAPE);
  PE_CHECK(out.dims[0] == batch && out.dims[1] == n_unit, PE_ERR_SHAPE);

  PE_CHECK(p->input_zero_point >= -128 && p->input_zero_point <= 127, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->output_zero_point >= -128 && p->output_zero_point <= 127, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->feature_multiplier >= 0 && shift_ok(p->feature_shift), PE_ERR_BAD_PARAMS);
  PE_CHECK(p->time_multiplier >= 0 && shift_ok(p->time_shift), PE_ERR_BAD_PARAMS);
  return PE_OK;
}

pe_status pe_svdf__scalar(const pe_op_ctx *ctx) {
  const pe_svdf_params *p = (const pe_svdf_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), wf = pe_input(ctx, 1), wt = pe_input(ctx, 2);
  pe_tensor bias_t = pe_input(ctx, 3), st = pe_input(ctx, 4), out_t = pe_output(ctx, 0);
  const int8_t *input = (const int8_t *)in.data;
  const int8_t *weights_feature = (const int8_t *)wf.data;
  const int16_t *weights_time = (const int16_t *)wt.data;
  const int32_t *bias = (const int32_t *)bias_t.data; /* NULL when absent */
  int16_t *state = (int16_t *)st.data;
  int8_t *output = (int8_t *)out_t.data;
  const int32_t n_batch = in.dims[0], n_input = in.dims[1];
  const int32_t n_filter = wf.dims[0], n_memory = wt.dims[1];
  const int32_t n_rank = p->rank, n_unit = n_filter / n_rank;
  const int32_t n_state = n_batch * n_filter * n_memory;
  int32_t b, f, u, c, m;

  /* The state holds, per (batch, filter), the last n_memory activations, oldest first.
     Shift the whole buffer left by one element: every row drops its oldest activation. The
     last slot of each row then holds the next row's oldest value; the feature step below
     overwrites it (TFLite shifts the flat buffer the same way). */
  memmove(state, state + 1, (size_t)(n_state - 1) * sizeof(int16_t));

  /* Feature step: the newest activation of each filter, requantized to the state's scale.
     TFLite assumes the state is symmetric (zero point 0) and ignores its zero point. */
  for (b = 0; b < n_batch; ++b) {
    const int8_t *x = input + (size_t)b * n_input;
    int16_t *newest = state + (size_t)b * n_filter * n_memory + (n_memory - 1);
    /* Four filters at a time share each input load; the sums wrap as TFLite's int32 does. */
    for (f = 0; f + 4 <= n_filter; f += 4) {
      const int8_t *w0 = weights_feature + (size_t)f * n_input, *w1 = w0 + n_input;
      const int8_t *w2 = w1 + n_input, *w3 = w2 + n_input;
      uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (c = 0; c < n_input; ++c) {
        const int32_t xc = (int32_t)x[c] - p->input_zero_point;
        a0 += (uint32_t)((int32_t)w0[c] * xc);
        a1 += (uint32_t)((int32_t)w1[c] * xc);
        a2 += (uint32_t)((int32_t)w2[c] * xc);
        a3 += (uint32_t)((int32_t)w3[c] * xc);
      }
      newest[(size_t)(f + 0) * n_memory] = (int16_t)pe_clamp(pe_mbqm((int32_t)a0, p->feature_multiplier, p->feature_shift), -32768, 32767);
      newest[(size_t)(f + 1) * n_memory] = (int16_t)pe_clamp(pe_mbqm((int32_t)a1, p->feature_multiplier, p->feature_shift), -32768, 32767);
      newest[(size_t)(f + 2) * n_memory] = (int16_t)pe_clamp(pe_mbqm((int32_t)a2, p->feature_multiplier, p->feature_shift), -32768, 32767);
      newest[(size_t)(f + 3) * n_memory] = (int16_t)pe_clamp(pe_mbqm((int32_t)a3, p->feature_multiplier, p->feature_shift), -32768, 32767);
    }
    for (; f < n_filter; ++f) {
      const int8_t *w = weights_feature + (size_t)f * n_input;
      int32_t acc = 0;
      for (c = 0; c < n_input; ++c) acc = wrap_add(acc, (int32_t)w[c] * ((int32_t)x[c] - p->input_zero_point));
      acc = pe_mbqm(acc, p->feature_multiplier, p->feature_shift);
      newest[(size_t)f * n_memory] = (int16_t)pe_clamp(acc, -32768, 32767);
    }
  }

  /* Time step: each unit sums, over its `rank` filters (filter = unit * rank + r), the dot
     product of the filter's time weights with its state row; then bias and requantization.
     No activation is applied: TFLite's integer SVDF only clamps to int8. */
  /* A unit's filters are consecutive, so its time weights and state rows are one run of
     rank * n_memory values each: one dot product per unit. */
  for (b = 0; b < n_batch; ++b) {
    const int32_t span = n_rank * n_memory;
    for (u = 0; u < n_unit; ++u) {
      const int16_t *w = weights_time + (size_t)u * span;
      const int16_t *s = state + ((size_t)b * n_filter + (size_t)u * n_rank) * n_memory;
      uint32_t acc = bias != NULL ? (uint32_t)bias[u] : 0u;
      for (m = 0; m < span; ++m) acc += (uint32_t)((int32_t)w[m] * (int32_t)s[m]);
      acc = (uint32_t)wrap_add(pe_mbqm((int32_t)acc, p->time_multiplier, p->time_shift), p->output_zero_point);
      output[(size_t)b * n_unit + u] = (int8_t)pe_clamp((int32_t)acc, -128, 127);
    }
  }
  return PE_OK;
}

/* ---- resource variables ----------------------------------------------------------------
 * Each resource variable is one persistent (PE_STORE_STATE) tensor resolved at pack time;
 * VAR_HANDLE lowers to nothing. Reading and assigning copy the raw bytes: TFLite's variable
 * takes the assigned tensor's bytes (and quantization) as they are, and a read hands them
 * back unchanged. */

static pe_status variable_copy_check(const pe_op_ctx *ctx, int state_is_output) {
  pe_tensor src = pe_input(ctx, 0), dst = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(has_data(ctx, src.index) && writable(ctx, dst.index), PE_ERR_SHAPE);
  PE_CHECK(storage_of(ctx, state_is_output ? dst.index : src.index) == PE_STORE_STATE, PE_ERR_SHAPE);
  PE_CHECK(src.dtype == dst.dtype && src.bytes == dst.bytes, PE_ERR_SHAPE);
  return PE_OK;
}

static pe_status variable_copy(const pe_op_ctx *ctx) {
  pe_tensor src = pe_input(ctx, 0), dst = pe_output(ctx, 0);
  if (src.data != dst.data) memmove(dst.data, src.data, dst.bytes);
  return PE_OK;
}

pe_status pe_read_variable_check(const pe_op_ctx *ctx) { return variable_copy_check(ctx, 0); }
pe_status pe_read_variable__scalar(const pe_op_ctx *ctx) { return variable_copy(ctx); }
pe_status pe_assign_variable_check(const pe_op_ctx *ctx) { return variable_copy_check(ctx, 1); }
pe_status pe_assign_variable__scalar(const pe_op_ctx *ctx) { return variable_copy(ctx); }

/* ---- CALL_ONCE ------------------------------------------------------------------------- */

pe_status pe_call_once_check(const pe_op_ctx *ctx) {
  const pe_call_once_params *p = (const pe_call_once_params *)ctx->params;
  pe_tensor flag = pe_output(ctx, 0);
  uint32_t s;
  PE_CHECK(ctx->n_inputs == 0 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(flag.index >= 0 && storage_of(ctx, flag.index) == PE_STORE_STATE, PE_ERR_SHAPE);
  PE_CHECK(flag.dtype == PE_INT32 && flag.bytes == sizeof(int32_t), PE_ERR_SHAPE);
  PE_CHECK(p->subgraph >= 0 && (uint32_t)p->subgraph < ctx->m->hdr->n_subgraphs, PE_ERR_BAD_PARAMS);
  /* A subgraph may not initialise itself (TFLite's Prepare rejects it too). */
  for (s = 0; s < ctx->m->hdr->n_subgraphs; ++s) {
    const pe_subgraph_rec *g = &ctx->m->subgraphs[s];
    if (ctx->op_index >= g->first_op && ctx->op_index - g->first_op < g->n_ops)
      PE_CHECK(s != (uint32_t)p->subgraph, PE_ERR_BAD_PARAMS);
  }
  return PE_OK;
}

/* Runs the init subgraph on the first invoke only. The done-flag is persistent state that
   reset_all_variables() leaves alone: TFLite's ResetVariableTensors() does not re-arm
   CALL_ONCE either. A failed init leaves the flag clear, as in TFLite. */
pe_status pe_call_once__scalar(const pe_op_ctx *ctx) {
  const pe_call_once_params *p = (const pe_call_once_params *)ctx->params;
  int32_t *done = (int32_t *)pe_output(ctx, 0).data;
  pe_status st;
  if (*done) return PE_OK;
  st = pe_run_subgraph(ctx->it, (uint32_t)p->subgraph);
  if (st != PE_OK) return st;
  *done = 1;
  return PE_OK;
}
