/* TFLite's int8 requantization for the Cortex-M DSP kernels, bit-identical to pe_conv_requant32
 * (conv.h) when the multiplier is >= 0 (every conv/FC/depthwise check function guarantees it;
 * the saturating case of the doubling high multiply needs a multiplier of INT32_MIN). The
 * channel's shift is split once into a left shift, a right shift and its rounding mask, and then
 * each output is: shift left (wrapping), SMLAL of x * mult onto 2^30 and the top 33 bits >> 31
 * (gemmlowp's rounding doubling high multiply), the rounding right shift (ties away from zero),
 * the output zero point, the clamp. */
#ifndef PE_REQUANT_DSP_H
#define PE_REQUANT_DSP_H

#include <stdint.h>

typedef struct {
  int32_t mult, left, right;
  uint32_t mask;
} pe_dsp_rq;

static inline pe_dsp_rq pe_dsp_rq_channel(int32_t mult, int32_t shift) {
  pe_dsp_rq q;
  q.mult = mult;
  q.left = shift > 0 ? shift : 0;
  q.right = shift > 0 ? 0 : -shift;
  q.mask = (uint32_t)(((uint64_t)1 << q.right) - 1u);
  return q;
}

static inline int8_t pe_dsp_requant(int32_t acc, pe_dsp_rq q, int32_t output_offset, int32_t act_min,
                                    int32_t act_max) {
  const int32_t x = (int32_t)((uint32_t)acc << q.left);
  const int32_t h = (int32_t)(((int64_t)x * q.mult + ((int64_t)1 << 30)) >> 31);
  const int32_t rem = (int32_t)((uint32_t)h & q.mask);
  const int32_t threshold = (int32_t)(q.mask >> 1) + (int32_t)((uint32_t)h >> 31);
  int32_t v = (int32_t)((uint32_t)((h >> q.right) + (rem > threshold)) + (uint32_t)output_offset);
  v = v < act_min ? act_min : v;
  return (int8_t)(v > act_max ? act_max : v);
}

#endif
