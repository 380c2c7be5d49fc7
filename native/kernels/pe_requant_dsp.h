/* TFLite's int8 requantization for the Cortex-M DSP kernels, bit-identical to pe_conv_requant32
 * (conv.h) when the multiplier is >= 0 (every conv/FC/depthwise check function guarantees it;
 * the saturating case of the doubling high multiply needs a multiplier of INT32_MIN).
 *
 * TFLite computes, with x = acc << left (wrapping) and e = the right shift,
 *   h = (x * mult + 2^30) >> 31                  (gemmlowp's rounding doubling high multiply)
 *   y = (h + 2^(e-1) - [h < 0]) >> e             (rounding divide by 2^e, ties away from zero)
 * Both floors fold into one (floor((floor(v / a) + c) / b) = floor((v + c a) / (a b))), and [h < 0]
 * may be read as [x < 0]: they differ only when h = 0, where both give 0. So for e >= 1
 *   y = (x * mult + K - [x < 0] * 2^31) >> (31 + e),   K = 2^30 + 2^(30 + e),
 * one SMLAL onto the channel's 64-bit constant K, the sign term added into the same pair
 * (ASR, ADDS, ADC), and y is the high word shifted right by e - 1: the low word is never read.
 * For e = 0, y = h: the top 33 bits of the SMLAL result >> 31. */
#ifndef PE_REQUANT_DSP_H
#define PE_REQUANT_DSP_H

#include "pe_kernel.h"

#if PE_DSP_KERNELS /* Arm inline assembly and ACLE: only where the DSP kernels are built */
#include <arm_acle.h>
#include <stdint.h>

typedef struct {
  int32_t mult, left;
  int32_t sh;        /* e - 1 for e >= 1; -1 for e = 0 */
  uint32_t klo;      /* K, low and high words */
  int32_t khi;
} pe_dsp_rq;

static inline pe_dsp_rq pe_dsp_rq_channel(int32_t mult, int32_t shift) {
  pe_dsp_rq q;
  const int32_t e = shift > 0 ? 0 : -shift;
  q.mult = mult;
  q.left = shift > 0 ? shift : 0;
  q.sh = e - 1;
  /* K = 2^30 + 2^(30 + e) (e >= 1), 2^30 (e = 0) */
  q.klo = e == 1 ? 0xC0000000u : 0x40000000u;
  q.khi = e >= 2 ? (int32_t)(1u << (e - 2)) : 0;
  return q;
}

/* mbqm(acc, mult, shift): the scaled accumulator before the output offset and the clamp */
static inline int32_t pe_dsp_rq_scale(int32_t acc, pe_dsp_rq q) {
  const int32_t x = (int32_t)((uint32_t)acc << q.left);
  uint32_t lo = q.klo;
  int32_t hi = q.khi;
  if (q.sh >= 0) {
    const int32_t t = x >> 31;
    __asm__("smlal %0, %1, %2, %3\n\t"
            "adds %0, %0, %4, lsl #31\n\t"
            "adc %1, %1, %4"
            : "+&r"(lo), "+&r"(hi)
            : "r"(x), "r"(q.mult), "r"(t)
            : "cc");
    return hi >> q.sh;
  }
  __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x), "r"(q.mult));
  return (int32_t)(((uint32_t)hi << 1) | (lo >> 31));
}

/* pe_dsp_rq_scale for a channel known to shift right (shift <= -1: e >= 1, no left shift) */
static inline int32_t pe_dsp_rq_scale_right(int32_t x, pe_dsp_rq q) {
  uint32_t lo = q.klo;
  int32_t hi = q.khi;
  const int32_t t = x >> 31;
  __asm__("smlal %0, %1, %2, %3\n\t"
          "adds %0, %0, %4, lsl #31\n\t"
          "adc %1, %1, %4"
          : "+&r"(lo), "+&r"(hi)
          : "r"(x), "r"(q.mult), "r"(t)
          : "cc");
  return hi >> q.sh;
}

/* The kernels specialize their loops on the requantization's (right, full) at -O2; built for
   size (-Os) one copy takes them as run-time flags. call(r, f) is the loop for those flags. */
#ifdef __OPTIMIZE_SIZE__
#define PE_DSP_RQ_INLINE __attribute__((noinline))
#define PE_DSP_RQ_DISPATCH(call, right, full) call((right), (full))
#else
#define PE_DSP_RQ_INLINE inline __attribute__((always_inline))
#define PE_DSP_RQ_DISPATCH(call, right, full) \
  do {                                        \
    if ((right) && (full))                    \
      call(1, 1);                             \
    else if (right)                           \
      call(1, 0);                             \
    else                                      \
      call(0, 0);                             \
  } while (0)
#endif

/* the scaled sum, the output offset and the clamp; right: the channel shifts right (shift <= -1),
   full: the clamp is int8's own range (one SSAT) */
static inline __attribute__((always_inline)) int8_t pe_dsp_requant_k(int32_t acc, pe_dsp_rq q, int32_t oo,
                                                                     int32_t lo, int32_t hi, int right, int full) {
  const int32_t y = (int32_t)((uint32_t)(right ? pe_dsp_rq_scale_right(acc, q) : pe_dsp_rq_scale(acc, q)) + (uint32_t)oo);
  return (int8_t)(full ? __ssat(y, 8) : y < lo ? lo : y > hi ? hi : y);
}

static inline int8_t pe_dsp_requant(int32_t acc, pe_dsp_rq q, int32_t output_offset, int32_t act_min,
                                    int32_t act_max) {
  int32_t v = (int32_t)((uint32_t)pe_dsp_rq_scale(acc, q) + (uint32_t)output_offset);
  v = v < act_min ? act_min : v;
  return (int8_t)(v > act_max ? act_max : v);
}

#endif /* PE_DSP_KERNELS */

#endif
