/* Drivers of the row dot-product microkernels: the integer SVDF as TFLite's
 * reference_ops::EvalIntegerSVDF (the scalar reference is pe_svdf__scalar in sequence_scalar.c;
 * this computes the same bytes with the sums done by the variant's microkernels). No ISA code. */
#include <string.h>

#include "sequence.h"
#include "sequence_drivers.h"

const pe_qs8_dot_ukernel pe_uk_qs8_dot__scalar = {pe_qs8_dot_rows__scalar, pe_qs16_dot_pairs__scalar};
#if PE_X86_KERNELS
const pe_qs8_dot_ukernel pe_uk_qs8_dot__avx2 = {pe_qs8_dot_rows_4x16__avx2, pe_qs16_dot_pairs_16__avx2};
const pe_qs8_dot_ukernel pe_uk_qs8_dot__avx512 = {pe_qs8_dot_rows_4x32__avx512, pe_qs16_dot_pairs_32__avx512};
#endif

#define DOT_BLOCK 64

pe_status pe_svdf__dot(const pe_op_ctx *ctx) {
  const pe_svdf_params *p = (const pe_svdf_params *)ctx->params;
  const pe_qs8_dot_ukernel *uk = (const pe_qs8_dot_ukernel *)ctx->variant->ukernel;
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
  const int32_t n_rank = p->rank, n_unit = n_filter / n_rank, span = n_rank * n_memory;
  const int32_t n_state = n_batch * n_filter * n_memory;
  int32_t acc[DOT_BLOCK];
  int32_t b, f0, u0, i;

  /* the state shift of pe_svdf__scalar: every row drops its oldest activation */
  memmove(state, state + 1, (size_t)(n_state - 1) * sizeof(int16_t));

  /* feature step: one dot product per filter, requantized into its row's newest slot */
  for (b = 0; b < n_batch; ++b) {
    int16_t *newest = state + (size_t)b * n_filter * n_memory + (n_memory - 1);
    for (f0 = 0; f0 < n_filter; f0 += DOT_BLOCK) {
      const int32_t cnt = n_filter - f0 < DOT_BLOCK ? n_filter - f0 : DOT_BLOCK;
      uk->s8_rows((size_t)cnt, (size_t)n_input, weights_feature + (size_t)f0 * n_input, (size_t)n_input,
                  input + (size_t)b * n_input, p->input_zero_point, acc);
      for (i = 0; i < cnt; ++i)
        newest[(size_t)(f0 + i) * n_memory] =
            (int16_t)pe_clamp(pe_mbqm(acc[i], p->feature_multiplier, p->feature_shift), -32768, 32767);
    }
  }

  /* time step: a unit's time weights and state rows are one run of rank * n_memory each */
  for (b = 0; b < n_batch; ++b) {
    const int16_t *srow = state + (size_t)b * n_filter * n_memory;
    for (u0 = 0; u0 < n_unit; u0 += DOT_BLOCK) {
      const int32_t cnt = n_unit - u0 < DOT_BLOCK ? n_unit - u0 : DOT_BLOCK;
      uk->s16_pairs((size_t)cnt, (size_t)span, weights_time + (size_t)u0 * span, srow + (size_t)u0 * span,
                    (size_t)span, acc);
      for (i = 0; i < cnt; ++i) {
        const int32_t sum = (int32_t)((uint32_t)acc[i] + (uint32_t)(bias != NULL ? bias[u0 + i] : 0));
        const int32_t y = (int32_t)((uint32_t)pe_mbqm(sum, p->time_multiplier, p->time_shift) +
                                    (uint32_t)p->output_zero_point);
        output[(size_t)b * n_unit + u0 + i] = (int8_t)pe_clamp(y, -128, 127);
      }
    }
  }
  return PE_OK;
}
