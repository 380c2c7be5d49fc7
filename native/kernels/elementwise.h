/* Parameters of the elementwise binary kernels (ADD, SUB, MUL, MINIMUM, MAXIMUM, PRELU): all
 * fields int32_t so the layout is the same on every ABI.
 *
 * Every kernel takes two inputs and one output and broadcasts numpy-style: the inputs are
 * aligned on their last dimension, and each input dim equals the output's or is 1. The
 * arithmetic is TFLite 2.14's reference kernels'; the lowering (pyedge/lower/elementwise.py)
 * computes the parameters as TFLite's Prepare does. */
#ifndef PE_ELEMENTWISE_H
#define PE_ELEMENTWISE_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* pe_add_params.kind */
enum {
  PE_ADD_RESCALE = 0, /* int8/int16: both inputs rescaled to a common scale (left_shift, multipliers) */
  PE_ADD_POT = 1,     /* int16 with power-of-two scales, zero points 0: inputs shifted right */
  PE_ADD_INT32 = 2    /* int32: plain integer arithmetic, wrapping */
};

/* ADD and SUB: out = clamp(in1 + in2) or clamp(in1 - in2).
   RESCALE: s_k = MBQMSmallerThanOne((in_k + input_k_offset) << left_shift, input_k_multiplier,
            input_k_shift); out = MBQMSmallerThanOne(s1 +- s2, output_multiplier, output_shift)
            + output_offset.
   POT:     s_k = RoundingDivideByPOT(in_k, -input_k_shift); out = s1 +- s2.
   INT32:   out = in1 +- in2.
   The result is clamped to [activation_min, activation_max]. Unused fields are 0. */
typedef struct {
  int32_t kind;
  int32_t left_shift;        /* RESCALE: 20 for int8, 15 for int16 */
  int32_t input1_offset;     /* -zero_point */
  int32_t input1_multiplier; /* >= 0 */
  int32_t input1_shift;      /* <= 0 */
  int32_t input2_offset;
  int32_t input2_multiplier;
  int32_t input2_shift;
  int32_t output_offset;     /* zero_point */
  int32_t output_multiplier;
  int32_t output_shift;      /* <= 0 */
  int32_t activation_min;
  int32_t activation_max;
} pe_add_params;

/* pe_mul_params.kind */
enum {
  PE_MUL_RESCALE = 0,     /* int8 x int8 -> int8, int16 x int16 -> int16 */
  PE_MUL_INT16_INT8 = 1,  /* int16 x int16 -> int8: Q0.15 product, divided by 2^8, offset */
  PE_MUL_INT32 = 2        /* int32: plain integer arithmetic, wrapping */
};

/* MUL.
   RESCALE: out = MBQM((in1 + input1_offset) * (in2 + input2_offset), output_multiplier,
            output_shift) + output_offset.
   INT16_INT8: p = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul16(in1, in2), 8), clamped
            to [activation_min - output_offset, activation_max - output_offset]; out = p +
            output_offset (TFLite ignores the scales on this path).
   INT32:   out = in1 * in2.
   The result is clamped to [activation_min, activation_max]. */
typedef struct {
  int32_t kind;
  int32_t input1_offset;
  int32_t input2_offset;
  int32_t output_offset;
  int32_t output_multiplier; /* >= 0 */
  int32_t output_shift;      /* in [-31, 31] */
  int32_t activation_min;
  int32_t activation_max;
} pe_mul_params;

/* MINIMUM, MAXIMUM: compare raw values (int8, int16, int32); quantization is not consulted. */
typedef struct {
  int32_t reserved;
} pe_minmax_params;

/* PRELU (int8): inputs (x, alpha), alpha broadcast to x's shape, output shaped as x.
   v = x + input_offset; out = v >= 0 ? MBQM(v, identity_multiplier, identity_shift)
                                      : MBQM(v * (alpha + alpha_offset), alpha_multiplier, alpha_shift);
   out + output_offset clamped to the int8 range. */
typedef struct {
  int32_t input_offset;
  int32_t alpha_offset;
  int32_t output_offset;
  int32_t identity_multiplier; /* >= 0 */
  int32_t identity_shift;      /* in [-31, 31] */
  int32_t alpha_multiplier;    /* >= 0 */
  int32_t alpha_shift;         /* in [-31, 31] */
} pe_prelu_params;

/* FLOOR_DIV (floor_div.cc): raw values, no quantization; int8, int16, int32: floor(in1 / in2)
   exactly (a zero denominator anywhere fails the invoke, as TFLite's check does), the result's
   low bits stored (INT_MIN / -1); float32: floor((double)in1 / (double)in2) as float. */
typedef struct {
  int32_t reserved; /* 0 */
} pe_floor_div_params;

/* DIV (div.cc), int32 and float32 (no quantization): int32 in1 / in2 truncated, clamped to
   [activation_min, activation_max] (a zero denominator fails the invoke; INT32_MIN / -1 gives
   INT32_MIN); float32 in1 / in2 clamped to the fused activation's float range (NONE: +-FLT_MAX).
   uint8 (reference_ops::DivElementwise): (in1 + input1_offset) times the fixed-point reciprocal
   of (in2 + input2_offset) (GetReciprocal), rescaled by output_multiplier / output_shift, plus
   output_offset, clamped to [activation_min, activation_max]; a denominator equal to its zero
   point fails the invoke. output_shift <= 23 (the quotient's rescale is never a left shift). */
enum {
  PE_DIV_ACT_NONE = 0,
  PE_DIV_ACT_RELU = 1,
  PE_DIV_ACT_RELU_N1_TO_1 = 2,
  PE_DIV_ACT_RELU6 = 3
};
typedef struct {
  int32_t activation;     /* float32: PE_DIV_ACT_* */
  int32_t activation_min; /* int32, uint8 */
  int32_t activation_max;
  int32_t input1_offset;  /* uint8: -zero point, in [-255, 0] */
  int32_t input2_offset;
  int32_t output_offset;  /* uint8: zero point, in [0, 255] */
  int32_t output_multiplier;
  int32_t output_shift;   /* in [-31, 23] */
} pe_div_params;

/* SQRT (elementwise.cc): float32, sqrtf per element. */
typedef struct {
  int32_t reserved; /* 0 */
} pe_sqrt_params;
/* END CDEF */

#endif
