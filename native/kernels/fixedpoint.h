/*
 * gemmlowp fixed-point arithmetic (fixedpoint/fixedpoint.h) as TFLite's reference kernels
 * use it, on plain int32/int16 raw values.
 *
 * A value in "Qk" has k integer bits and 31-k fractional bits (int32 raw), so raw r means
 * r / 2^(31-k). gemmlowp tracks k in the C++ type; here it is a function argument.
 * Additions wrap like gemmlowp's plain `a + b` does in practice (two's complement);
 * multiplications are SaturatingRoundingDoublingHighMul (pe_sat_rounding_doubling_high_mul).
 */
#ifndef PE_FIXEDPOINT_H
#define PE_FIXEDPOINT_H

#include "pe_kernel.h"

/* ---- int32 raw ------------------------------------------------------------------ */

/* a + b and a - b with two's complement wrap-around (gemmlowp Add/Sub on int32). */
static inline int32_t pe_fp_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t pe_fp_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* Fixed-point product: Qa * Qb = Q(a+b). */
static inline int32_t pe_fp_mul(int32_t a, int32_t b) { return pe_sat_rounding_doubling_high_mul(a, b); }

/* gemmlowp RoundingHalfSum: (a + b) / 2 rounded to nearest, ties away from zero. */
static inline int32_t pe_fp_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>: x * 2^exponent, saturating when
   exponent > 0 and rounding to nearest when exponent < 0. exponent in [-31, 30]. */
static inline int32_t pe_fp_sat_rounding_mul_by_pot(int32_t x, int exponent) {
  if (exponent > 0) {
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return pe_shl32(x, exponent);
  }
  if (exponent < 0) return pe_rounding_divide_by_pot(x, -exponent);
  return x;
}

/* gemmlowp Rescale<dst_bits>(FixedPoint<int32, src_bits>). */
static inline int32_t pe_fp_rescale(int32_t x, int src_integer_bits, int dst_integer_bits) {
  return pe_fp_sat_rounding_mul_by_pot(x, src_integer_bits - dst_integer_bits);
}

/* exp(a) for a in [-1/4, 0), a and result in Q0: Taylor expansion around -1/8. */
static inline int32_t pe_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;    /* exp(-1/8) in Q0 */
  const int32_t constant_1_over_3 = 715827883; /* 1/3 in Q0 */
  const int32_t x = pe_fp_add(a, 1 << 28);     /* a + 1/8 */
  const int32_t x2 = pe_fp_mul(x, x);
  const int32_t x3 = pe_fp_mul(x2, x);
  const int32_t x4 = pe_fp_mul(x2, x2);
  const int32_t x4_over_4 = pe_fp_sat_rounding_mul_by_pot(x4, -2);
  const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 = pe_fp_sat_rounding_mul_by_pot(
      pe_fp_add(pe_fp_mul(pe_fp_add(x4_over_4, x3), constant_1_over_3), x2), -1);
  return pe_fp_add(constant_term,
                   pe_fp_mul(constant_term, pe_fp_add(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)));
}

/* exp(a) for a <= 0; a in Q(integer_bits) with integer_bits in [0, 29], result in Q0.
   Splits a into a multiple of 1/4 (applied by a barrel shifter of exp(-2^k) constants) and
   a remainder in [-1/4, 0). */
static inline int32_t pe_fp_exp_on_negative_values(int32_t a, int integer_bits) {
  /* exp(-2^k) in Q0 for k = -2 .. 4 */
  static const int32_t kExpNegPot[7] = {1672461947, 1302514674, 790015084, 290630308,
                                        39332535,   720401,     242};
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = pe_fp_sub(a & mask, one_quarter);
  int32_t result = pe_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
      pe_fp_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
  const int32_t remainder = pe_fp_sub(a_mod_quarter_minus_one_quarter, a);
  int k;
  for (k = -2; k <= 4; ++k) {
    if (integer_bits > k) {
      const int shift = fractional_bits + k;
      if (remainder & (int32_t)(1u << shift)) result = pe_fp_mul(result, kExpNegPot[k + 2]);
    }
  }
  if (integer_bits > 5) {
    /* below -32 the result is 0 */
    const int32_t clamp = -(int32_t)(1u << (36 - integer_bits));
    if (a < clamp) result = 0;
  }
  if (a == 0) result = INT32_MAX; /* One() in Q0 */
  return result;
}

/* 1 / (1 + a) for a in [0, 1), a and result in Q0: Newton-Raphson division with 3 steps
   (initial estimate 48/17 - 32/17 * d, internal values in Q2). */
static inline int32_t pe_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t constant_48_over_17 = 1515870810;      /* Q2 */
  const int32_t constant_neg_32_over_17 = -1010580540; /* Q2 */
  const int32_t one_q2 = (int32_t)1 << 29;
  const int32_t half_denominator = pe_fp_rounding_half_sum(a, INT32_MAX);
  int32_t x = pe_fp_add(constant_48_over_17, pe_fp_mul(half_denominator, constant_neg_32_over_17));
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = pe_fp_mul(half_denominator, x);          /* Q2 */
    const int32_t one_minus_half_denominator_times_x = pe_fp_sub(one_q2, half_denominator_times_x);
    x = pe_fp_add(x, pe_fp_rescale(pe_fp_mul(x, one_minus_half_denominator_times_x), 4, 2));
  }
  /* x is 1/half_denominator in Q2; halving it (Q2 -> Q1 exactly) gives 1/(1+a) */
  return pe_fp_rescale(x, 1, 0);
}

/* Count of leading zero bits; 32 for 0. */
static inline int pe_fp_clz32(uint32_t x) {
  int n = 0;
  if (x == 0) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

/* TFLite GetReciprocal: 1/x for x > 0 in Q(x_integer_digits). Returns the reciprocal of x's
   mantissa in Q0 and the number of bits x has above 1.0 (the result is then
   returned / 2^num_bits_over_unit). */
static inline int32_t pe_fp_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
  const int headroom_plus_one = pe_fp_clz32((uint32_t)x);
  const int32_t shifted_sum_minus_one =
      (int32_t)(((uint32_t)x << (headroom_plus_one & 31)) - (1u << 31));
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  return pe_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

/* ---- int16 raw (gemmlowp's int16 specialisations) ----------------------------- */

/* SaturatingRoundingDoublingHighMul on int16 (ARM VQRDMULH.16). */
static inline int16_t pe_fp_sat_rounding_doubling_high_mul16(int16_t a, int16_t b) {
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  if (a == b && a == INT16_MIN) return INT16_MAX;
  return (int16_t)((ab + nudge) / (1 << 15)); /* division truncates toward zero */
}

/* RoundingDivideByPOT on int16, exponent in [0, 31]. As in gemmlowp the mask is
   (2^exponent - 1) truncated to int16, which is all ones from exponent 16 on. */
static inline int16_t pe_fp_rounding_divide_by_pot16(int16_t x, int exponent) {
  const int16_t mask = (int16_t)(((int64_t)1 << exponent) - 1);
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

/* TFLite GetInvSqrtQuantizedMultiplierExp(input, reverse_shift = -1): 1 / sqrt(input) as a
   multiplier and (left) shift, by five Newton-Raphson steps in Q3.28 (the int8 LSTM's layer
   norm and RSQRT). */
static inline void pe_fp_inv_sqrt_multiplier_exp(int32_t input, int32_t *mult, int *shift) {
  const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 in Q3.28 */
  int32_t half_input, x;
  int out_shift = 11, clz = 0, pairs, i;
  if (input <= 1) {
    *mult = INT32_MAX;
    *shift = 0;
    return;
  }
  while (input >= (1 << 29)) {
    input /= 4;
    ++out_shift;
  }
  while (clz < 32 && ((uint32_t)input & (0x80000000u >> clz)) == 0) ++clz;
  pairs = (clz - 1) / 2 - 1;
  out_shift -= pairs;
  input <<= 2 * pairs;
  half_input = pe_rounding_divide_by_pot(input >> 1, 1);
  x = 1 << 28; /* 1.0 in Q3.28 */
  for (i = 0; i < 5; ++i) {
    const int32_t x3 = pe_fp_rescale(pe_fp_mul(pe_fp_mul(x, x), x), 9, 3);
    x = pe_fp_rescale(pe_fp_sub(pe_fp_mul(half_three, x), pe_fp_mul(half_input, x3)), 6, 3);
  }
  x = pe_fp_mul(x, 1518500250); /* * sqrt(2) / 2 */
  if (out_shift < 0) {
    x = pe_shl32(x, -out_shift);
    out_shift = 0;
  }
  *mult = x;
  *shift = -out_shift;
}

#endif /* PE_FIXEDPOINT_H */
