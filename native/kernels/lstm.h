/* Parameters of the LSTM kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_LSTM_H
#define PE_LSTM_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer (TFLite's EvalInteger8x8_16): int8 input,
   weights, output and output state; int16 cell state, gates and peephole / layer-norm
   weights; int32 biases. Gate arrays are indexed input=0, forget=1, cell=2, output=3.
   Every (mult, shift) pair is a TFLite QuantizeMultiplier result (shift > 0: left).

   Inputs of the pe op: 0..23 as TFLite's (input, 4 input weights, 4 recurrent weights,
   3 peephole weights, 4 gate biases, projection weights, projection bias, output state,
   cell state, 4 layer-norm coefficients; absent ones -1; gate biases and the projection
   bias are passed only when the kernel reads them), then
   24: int32 [8, n_cell] effective biases, rows (input-to-gate, recurrent-to-gate) per gate
       (bias folded in unless layer norm, minus zero point times weight row sums),
   25: int32 [n_output] projection effective bias (present iff projection). */
typedef struct {
  int32_t time_major;      /* input [time, batch, n_input] (1) or [batch, time, n_input] (0) */
  int32_t use_cifg;        /* no input gate: it is 1 - forget gate */
  int32_t use_peephole;
  int32_t use_layer_norm;
  int32_t use_projection;
  int32_t input_mult[4];   /* input * input_to_gate weights -> gate (Q3.12) */
  int32_t input_shift[4];
  int32_t recurrent_mult[4]; /* output_state * recurrent_to_gate weights -> gate */
  int32_t recurrent_shift[4];
  int32_t cell_mult[4];    /* peephole: cell_state * cell_to_gate weights (cell gate unused) */
  int32_t cell_shift[4];
  int32_t layer_norm_mult[4];
  int32_t layer_norm_shift[4];
  int32_t variance_guard[4]; /* layer-norm variance used when the computed one is < 1 */
  int32_t hidden_mult;     /* output_gate * tanh(cell) -> hidden */
  int32_t hidden_shift;
  int32_t hidden_zp;
  int32_t proj_mult;       /* hidden * projection weights -> output state */
  int32_t proj_shift;
  int32_t output_state_zp;
  int32_t cell_scale_log2; /* cell state scale is 2^cell_scale_log2, in [-15, -9] */
  int32_t cell_clip;       /* quantized cell clip, 0: none */
  int32_t proj_clip;       /* quantized projection clip, 0: none */
} pe_lstm_params;
/* END CDEF */

#endif
