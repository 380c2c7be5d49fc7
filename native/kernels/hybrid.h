/* Dynamic-range ("hybrid") kernels: float activations, int8 weights. Each input row is
 * quantized to int8 when the op runs (symmetric, or asymmetric with a zero point), the dot
 * products are integer, and the int32 sums are rescaled in float by the row's scale times the
 * weights' scale: TFLite 2.14's EvalHybrid arithmetic (tensor_utils' SymmetricQuantizeFloats,
 * AsymmetricQuantizeFloats and MatrixBatchVectorMultiplyAccumulate), step for step.
 *
 * These are the only kernels of the core whose arithmetic is float. A build defining
 * PE_NO_FLOAT_KERNELS leaves them out (the op table then has no hybrid rows, and a blob that
 * uses one is refused as an unknown op), so integer-only firmware links none of it. */
#ifndef PE_HYBRID_H
#define PE_HYBRID_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* FULLY_CONNECTED_HYBRID. inputs: input float32 [..., D] (read as [B, D] rows), weights int8
   [U, D] (zero point 0), bias float32 [U] or absent, weight scales float32 [U] (a per-tensor
   scale repeated), weight row sums int32 [U] (present iff asymmetric); output float32 with
   B*U elements, last dim U. Scratch: D bytes (one quantized row). */
typedef struct {
  int32_t depth;       /* D: inputs per output unit */
  int32_t asymmetric;  /* 1: asymmetric_quantize_inputs (a zero point per row), 0: symmetric */
  int32_t activation;  /* TFLite fused activation: 0 none, 1 relu, 2 relu_n1_to_1, 3 relu6 */
} pe_fc_hybrid_params;

/* CONV_2D_HYBRID and DEPTHWISE_CONV_2D_HYBRID. inputs: input float32 [N,H,W,C], filter int8
   (CONV_2D_HYBRID [OC,KH,KW,C], DEPTHWISE_CONV_2D_HYBRID [1,KH,KW,OC]), bias float32 [OC] or
   absent, filter scales float32 [OC] (a per-tensor scale repeated); output float32
   [N,OH,OW,OC]. Each batch image is quantized as one row; taps outside the input are skipped.
   Scratch: H*W*C bytes.
   CONV_2D_HYBRID with per_channel 0 is TFLite's EvalHybrid (symmetric image quantization,
   out = acc * (image scale * filter scale) + bias); with per_channel 1 its EvalHybridPerChannel
   (asymmetric quantization with a zero point per image, out = acc * channel scale * image
   scale + bias). DEPTHWISE_CONV_2D_HYBRID is always the latter (per_channel 1), with
   out = acc * (channel scale * image scale) + bias. Then the fused activation's clamp. */
typedef struct {
  int32_t stride_h;
  int32_t stride_w;
  int32_t dilation_h;
  int32_t dilation_w;
  int32_t pad_h;
  int32_t pad_w;
  int32_t kernel_h;
  int32_t kernel_w;
  int32_t depth_multiplier; /* DEPTHWISE: OC / C; CONV_2D: 0 */
  int32_t per_channel;      /* see above */
  int32_t activation;       /* as pe_fc_hybrid_params */
} pe_conv_hybrid_params;

/* The float32 ops that dynamic-range models carry beside the hybrid ones (the converter leaves
   weights below 1024 elements float, and the activations between weighted ops are float):
   TFLite's reference_ops float kernels, sums in their order.
   FULLY_CONNECTED_FLOAT: input [..., D], weights float32 [U, D], bias [U] or absent.
   CONV_2D_FLOAT / DEPTHWISE_CONV_2D_FLOAT: as the hybrid convs with a float32 filter and no
   scales input (pe_conv_hybrid_params, per_channel 0). */
typedef struct {
  int32_t depth;
  int32_t activation; /* TFLite fused activation 0..3, as ActivationFunctionWithMinMax */
} pe_fc_float_params;

/* MAX_POOL_2D_FLOAT, AVERAGE_POOL_2D_FLOAT: NHWC float32, output [N, OH, OW, C]. */
typedef struct {
  int32_t stride_h;
  int32_t stride_w;
  int32_t filter_h;
  int32_t filter_w;
  int32_t pad_h;
  int32_t pad_w;
  int32_t activation;
} pe_pool_float_params;

/* SOFTMAX_FLOAT over the last dimension. */
typedef struct {
  int32_t beta_bits; /* the float32 beta's bit pattern */
  int32_t depth;     /* the last dimension */
} pe_softmax_float_params;

/* ADD_FLOAT, SUB_FLOAT, MUL_FLOAT, PRELU_FLOAT: out = f(a, b) over the output's 6-D index, a and
   b read through strides (0 along a broadcast dimension); then the fused activation (PRELU:
   a >= 0 ? a : a * b, no activation). */
typedef struct {
  int32_t activation;
  int32_t out_dims[6];
  int32_t a_strides[6];
  int32_t b_strides[6];
} pe_binary_float_params;

/* RELU_FLOAT: clamp to [lo, hi] of TFLite's RELU (0), RELU6 (1), RELU_N1_TO_1 (2). */
typedef struct {
  int32_t kind;
} pe_relu_float_params;

/* MEAN_FLOAT: the input as 6-D dims; the dims in axis_mask are averaged (sums in the input's
   row-major order, divided by their element count), the output holds the others in order. */
typedef struct {
  int32_t in_dims[6];
  int32_t axis_mask;
} pe_mean_float_params;

/* SVDF_HYBRID (svdf.cc EvalHybrid, reference_ops::EvalHybridSVDF). inputs: input float32
   [B, I], weights_feature int8 [F, I], weights_time float32 [F, M] (the int8 weights times their
   scale, as TFLite dequantizes them), bias float32 [F / rank] or absent, state float32 [B, M*F]
   (persistent), weights_feature row sums int32 [F]; output float32 [B, F / rank].
   Scratch: I bytes (one quantized row), then F floats. */
typedef struct {
  int32_t rank;
  int32_t asymmetric;
  int32_t activation;        /* as pe_fc_hybrid_params */
  int32_t feature_scale_bits; /* weights_feature's float32 scale, bit pattern */
} pe_svdf_hybrid_params;
/* UNIDIRECTIONAL_SEQUENCE_LSTM_HYBRID (lstm_eval.cc EvalHybrid / LstmStepHybrid): float32
   input, int8 weights (one scale per matrix), float32 biases, states and output. inputs, in
   TFLite's order: 0 input [T, B, I] (time_major) or [B, T, I]; 1-4 input-to-gate weights int8
   [C, I] (input gate absent with CIFG); 5-8 recurrent-to-gate weights int8 [C, O]; 9-11
   peephole weights float32 [C] (the int8 weights times their scale, as TFLite's
   VectorScalarMultiply gives them; cell-to-input absent with CIFG), or all absent; 12-15 gate
   biases float32 [C]; 16 projection weights int8 [O, C] or absent; 17 projection bias float32
   [O] or absent; 18 output state float32 [B, O] and 19 cell state float32 [B, C] (persistent);
   20-23, 24-27, 28: the int32 row sums of the input, recurrent and projection weights (present
   iff asymmetric and the matrix is). Output float32 [T, B, O] or [B, T, O]. Gates in TFLite's
   order: bias, + quantized input x weights, + quantized output state x weights (each skipped
   when its float vector is all zeros), + peephole x cell state, then sigmoid (std::exp) or the
   cell activation; cell = forget * cell + cell gate * input gate (1 - forget with CIFG), clipped;
   hidden = output gate * act(cell), projected (quantized again) and clipped, or copied.
   Scratch: pe_lstm_hybrid_scratch() bytes. */
typedef struct {
  int32_t time_major;
  int32_t n_batch;
  int32_t n_time;
  int32_t n_input;
  int32_t n_cell;
  int32_t n_output;
  int32_t use_cifg;
  int32_t use_peephole;
  int32_t use_projection;
  int32_t asymmetric;
  int32_t activation;           /* cell activation: 1 relu, 2 relu_n1_to_1, 3 relu6, 4 tanh */
  int32_t cell_clip_bits;       /* float32 bit patterns; 0.0f: no clip */
  int32_t proj_clip_bits;
  int32_t input_scale_bits[4];  /* the weights' float32 scales, bit patterns */
  int32_t recurrent_scale_bits[4];
  int32_t proj_scale_bits;
} pe_lstm_hybrid_params;
/* END CDEF */

/* TFLite's fused activation functions on floats (activation_functor.h), with std::max and
   std::min's comparisons: max(a, b) is (a < b) ? b : a, min(a, b) is (b < a) ? b : a. */
static inline float pe_hybrid_activate(float v, int32_t act) {
  switch (act) {
    case 1: return 0.0f < v ? v : 0.0f;
    case 2: v = 1.0f < v ? 1.0f : v; return -1.0f < v ? v : -1.0f;
    case 3: v = 6.0f < v ? 6.0f : v; return 0.0f < v ? v : 0.0f;
    default: return v;
  }
}

/* ActivationFunctionWithMinMax over CalculateActivationRange's float bounds (the conv kernels'
   form: NONE clamps to [-FLT_MAX, FLT_MAX]): min(max(v, lo), hi) with std::max / std::min. */
static inline float pe_hybrid_clamp(float v, int32_t act) {
  float lo = -3.402823466e+38f, hi = 3.402823466e+38f;
  if (act == 1) lo = 0.0f;
  if (act == 2) lo = -1.0f, hi = 1.0f;
  if (act == 3) lo = 0.0f, hi = 6.0f;
  v = v < lo ? lo : v;
  return hi < v ? hi : v;
}

/* TensorFlow Lite's activation codes the hybrid kernels implement (NONE, RELU, RELU_N1_TO_1,
   RELU6). */
static inline int pe_hybrid_act_ok(int32_t act) { return act >= 0 && act <= 3; }

/* tensor_utils::IsZeroVector: every element compares equal to 0.0f. */
int pe_hybrid_is_zero(const float *x, int32_t n);

/* One row of n floats to int8, as tensor_utils::SymmetricQuantizeFloats (asymmetric == 0:
   q = round(x * 127 / max|x|), *zero_point 0) or AsymmetricQuantizeFloats (q = zp + round-ish
   over [min(x, 0), max(x, 0)] in 255 steps). *scale receives the row's scale (1 for a row of
   zeros). */
void pe_hybrid_quantize_row(const float *x, int32_t n, int asymmetric, int8_t *q, float *scale,
                            int32_t *zero_point);

/* Scratch bytes UNIDIRECTIONAL_SEQUENCE_LSTM_HYBRID needs for a batch of b rows. */
static inline uint32_t pe_lstm_hybrid_scratch(int32_t b, int32_t n_input, int32_t n_cell, int32_t n_output) {
  const uint64_t q = (uint64_t)((b * n_input + 3) / 4 * 4) + (uint64_t)((b * n_output + 3) / 4 * 4) +
                     (uint64_t)((b * n_cell + 3) / 4 * 4);
  return (uint32_t)(q + 4u * (5u * (uint64_t)b * (uint64_t)n_cell + 6u * (uint64_t)b));
}

/* FULLY_CONNECTED_HYBRID with the variant's row dot-product microkernel (native/kernels.def). */
pe_status pe_fully_connected_hybrid__dot(const pe_op_ctx *ctx);

#endif
