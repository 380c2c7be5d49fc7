/* Parameters of the activation and (de)quantization kernels: all fields int32_t so the
   layout is the same on every ABI. Integer parameters are what TFLite computes in Prepare;
   float scales and zero points that TFLite reads from tensor params come from the tensor
   records (pe_tensor.scale / zero_point). */
#ifndef PE_ACTIVATION_H
#define PE_ACTIVATION_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* SOFTMAX over the innermost dimension.
   int8/uint8 input (gemmlowp path): input_multiplier/input_left_shift rescale input - max
   to Q5.26 (left_shift >= 0), diff_min skips smaller differences. Output int8/uint8/int16.
   int16 input: inputs 1 and 2 are the 513-entry int16 LUTs exp(x) on [-10, 0] and
   1/(1+x) on [0, 1]; input_multiplier/input_left_shift (any sign) map input - max onto
   [-65535, 0]; diff_min is unused. */
typedef struct {
  int32_t input_multiplier;
  int32_t input_left_shift;
  int32_t diff_min;
} pe_softmax_params;

/* LOGISTIC and TANH. int8/uint8: input 1 is a 256-entry LUT of the output type indexed by
   the input byte; the params are unused. int16: TFLite's sigmoid-table interpolation;
   input_multiplier 0 means the power-of-two case (input scaled by 3 << input_left_shift). */
typedef struct {
  int32_t input_multiplier;
  int32_t input_left_shift;
} pe_logistic_params;

/* RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1: requantize then clamp to
   [activation_min, activation_max]. */
typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t activation_min;
  int32_t activation_max;
} pe_relu_params;

/* HARD_SWISH on int8/uint8 (TFLite HardSwishParams; the int16 multipliers are stored
   widened to int32). */
typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t reluish_multiplier_fixedpoint_int16;
  int32_t reluish_multiplier_exponent;
  int32_t output_multiplier_fixedpoint_int16;
  int32_t output_multiplier_exponent;
} pe_hard_swish_params;

/* LEAKY_RELU: x >= 0 scaled by the identity multiplier, x < 0 by the alpha multiplier. */
typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t output_multiplier_alpha;
  int32_t output_shift_alpha;
  int32_t output_multiplier_identity;
  int32_t output_shift_identity;
} pe_leaky_relu_params;

/* QUANTIZE and DEQUANTIZE.
   QUANTIZE float32 -> int: per-tensor uses the output's scale and zero point; with
   axis >= 0, inputs 1 (float32 scales) and 2 (int32 zero points) hold one entry per index
   of output dimension `axis`.
   QUANTIZE int -> int (requantize): output = clamp(mbqm(x - input_zero_point, multiplier,
   shift) + output_zero_point).
   DEQUANTIZE int -> float32: per-tensor uses the input's scale and zero point; with
   axis >= 0, inputs 1 and 2 as above along input dimension `axis`. */
typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
  int32_t axis;
} pe_quantize_params;
/* RSQRT on int8 (TFLite's elementwise.cc, version 2): value = x - input_zero_point must be
   >= 0 (the kernel returns PE_ERR_RUNTIME otherwise, as TFLite fails the invoke); 0 maps to
   127; else 1 / sqrt(value) by GetInvSqrtQuantizedMultiplierExp, rescaled by multiplier/shift
   (1 / (sqrt(input_scale) * output_scale)). */
typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
} pe_rsqrt_params;
/* END CDEF */

#endif
