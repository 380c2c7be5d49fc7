/* Parameters of the conv/matmul kernels: all fields int32_t so the layout is the same on every ABI.
 *
 * Per-channel requantization (multiplier, shift per output channel) is not in the params: the
 * lowering passes it as two constant int32 tensors, inputs 3 and 4 (CONV_2D, DEPTHWISE_CONV_2D,
 * FULLY_CONNECTED), one entry per output channel (a per-tensor value repeated). */
#ifndef PE_CONV_H
#define PE_CONV_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* CONV_2D and DEPTHWISE_CONV_2D.
   inputs: input [N,H,W,C] int8|int16, filter int8 (CONV_2D [OC,KH,KW,C/groups],
   DEPTHWISE [1,KH,KW,OC]), bias [OC] int32 (int8) | int64 or int32 (int16) or absent,
   multipliers [OC] int32, shifts [OC] int32 (> 0: left shift); output [N,OH,OW,OC]. */
typedef struct {
  int32_t stride_h;
  int32_t stride_w;
  int32_t dilation_h;
  int32_t dilation_w;
  int32_t pad_h;            /* rows of implicit zero padding above the input */
  int32_t pad_w;            /* columns of implicit zero padding left of the input */
  int32_t input_offset;     /* -input zero point (0 for int16) */
  int32_t output_offset;    /* output zero point (0 for int16) */
  int32_t act_min;          /* fused activation clamp, in output units */
  int32_t act_max;
  int32_t depth_multiplier; /* DEPTHWISE_CONV_2D: OC / C; CONV_2D: unused, 0 */
  int32_t kernel_h;         /* filter height and width (the filter's dims 1, 2; packed layouts */
  int32_t kernel_w;         /* no longer carry them) */
} pe_conv_params;

/* FULLY_CONNECTED. inputs: input [..., D] (flattened to [B, D]), weights [U, D] int8,
   bias [U] or absent, multipliers [U], shifts [U]; output with B*U elements, last dim U. */
typedef struct {
  int32_t input_offset;  /* -input zero point */
  int32_t filter_offset; /* -weights zero point (per-tensor int8 weights only, else 0) */
  int32_t output_offset; /* output zero point */
  int32_t act_min;
  int32_t act_max;
  int32_t depth;         /* inputs per output unit (the weights' dim 1) */
} pe_fc_params;

/* BATCH_MATMUL. inputs: lhs [..., M, K] (or [..., K, M] with adj_x), rhs [..., K, N]
   (or [..., N, K] with adj_y), ranks 2..5, batch dims broadcast; output [..., M, N]. */
typedef struct {
  int32_t adj_x;
  int32_t adj_y;
  int32_t lhs_offset;    /* -lhs zero point */
  int32_t rhs_offset;    /* -rhs zero point */
  int32_t output_offset; /* output zero point */
  int32_t output_multiplier;
  int32_t output_shift;  /* > 0: left shift */
  int32_t act_min;
  int32_t act_max;
} pe_batch_matmul_params;
/* END CDEF */

/* ---- helpers shared by conv_scalar.c and fc_scalar.c ---- */

/* int32 addition that wraps on overflow, as TFLite's int32 accumulators do in practice
   (the C++ code overflows a signed int; we make the wrap-around explicit and defined). */
static inline int32_t pe_conv_add_wrap(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int64_t pe_conv_add_wrap64(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* a * b with int32 wrap-around. The kernels form a few products of dims up front (filter elements
   per output channel, per filter row) that fit int32 whenever they are used; for a degenerate
   filter without elements they may not, and are not used. */
static inline int32_t pe_conv_mul_wrap(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a * (uint32_t)b);
}

/* Dot product of n int8 inputs (plus x_offset, the negated input zero point) with n int8
   weights, mod 2^32: TFLite's int32 accumulator `acc += w * (x + x_offset)`, which wraps on
   overflow. Each product fits int32; only the sum wraps, so it is formed in uint32. */
static inline uint32_t pe_dot_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t x_offset) {
  uint32_t acc = 0;
  int32_t i;
  for (i = 0; i < n; ++i) acc += (uint32_t)((int32_t)w[i] * ((int32_t)x[i] + x_offset));
  return acc;
}

/* Four such dot products of the same inputs with four weight rows w, w + w_stride, ...,
   added to acc[0..3]: each input is loaded and offset once for four multiply-adds. */
static inline void pe_dot4_s8(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n,
                              int32_t x_offset, uint32_t acc[4]) {
  const int8_t *w0 = w, *w1 = w + w_stride, *w2 = w1 + w_stride, *w3 = w2 + w_stride;
  uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t xv = (int32_t)x[i] + x_offset;
    a0 += (uint32_t)((int32_t)w0[i] * xv);
    a1 += (uint32_t)((int32_t)w1[i] * xv);
    a2 += (uint32_t)((int32_t)w2[i] * xv);
    a3 += (uint32_t)((int32_t)w3[i] * xv);
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* Number of elements of a tensor, or -1 if it does not fit int32 (kernels index with int). */
static inline int32_t pe_conv_elems(const pe_tensor *t) {
  int64_t n = 1;
  int32_t i;
  for (i = 0; i < t->rank; ++i) {
    n *= t->dims[i];
    if (n > INT32_MAX) return -1;
  }
  return (int32_t)n;
}

/* A tensor the kernel reads or writes must have bytes behind it (a hostile blob could mark it
   PE_STORE_NONE, which has no data); absent optional inputs (index -1) pass. */
static inline int pe_conv_has_data(const pe_op_ctx *ctx, const pe_tensor *t) {
  return t->index < 0 || ctx->m->tensors[t->index].storage != PE_STORE_NONE;
}

/* Shift ranges the requantization helpers are defined for: pe_mbqm needs the right shift
   within 31 bits and a left shift below 31; pe_mbqm64 needs 1 <= 15 - shift <= 46. */
#define PE_CONV_SHIFT_MIN (-31)
#define PE_CONV_SHIFT_MAX_32 30
#define PE_CONV_SHIFT_MAX_64 14

/* Validate the per-channel requantization tensors: `n` constant int32 entries each, multipliers
   non-negative, shifts within [PE_CONV_SHIFT_MIN, shift_max]. */
static inline pe_status pe_conv_check_requant(const pe_tensor *mult, const pe_tensor *shift, int32_t n,
                                              int32_t shift_max) {
  const int32_t *m, *s;
  int32_t i;
  PE_CHECK(mult->index >= 0 && shift->index >= 0, PE_ERR_SHAPE);
  PE_CHECK(mult->dtype == PE_INT32 && shift->dtype == PE_INT32, PE_ERR_SHAPE);
  PE_CHECK(pe_conv_elems(mult) == n && pe_conv_elems(shift) == n, PE_ERR_SHAPE);
  PE_CHECK(mult->data != NULL && shift->data != NULL, PE_ERR_BAD_PARAMS); /* must be constants */
  m = (const int32_t *)mult->data;
  s = (const int32_t *)shift->data;
  for (i = 0; i < n; ++i) {
    PE_CHECK(m[i] >= 0, PE_ERR_BAD_PARAMS);
    PE_CHECK(s[i] >= PE_CONV_SHIFT_MIN && s[i] <= shift_max, PE_ERR_BAD_PARAMS);
  }
  return PE_OK;
}

/* Requantize a sum TFLite accumulates in int32 (int8 ops; 16x8 ops instantiated with an int32
   bias): its wrapped int32 value is the exact sum `acc` modulo 2^32. Then the bias, the 32-bit
   MultiplyByQuantizedMultiplier, the output zero point and the activation clamp. */
static inline int32_t pe_conv_requant32(int64_t acc, int32_t bias, int32_t mult, int32_t shift,
                                        int32_t output_offset, int32_t act_min, int32_t act_max) {
  int32_t v = pe_conv_add_wrap((int32_t)(uint32_t)(uint64_t)acc, bias);
  v = pe_conv_add_wrap(pe_mbqm(v, mult, shift), output_offset);
  return pe_clamp(v, act_min, act_max);
}

/* Requantize a sum TFLite accumulates in int64 (16x8 ops with an int64 bias, int16 BATCH_MATMUL)
   with the 64-bit MultiplyByQuantizedMultiplier (int16 outputs have no zero point). */
static inline int32_t pe_conv_requant64(int64_t acc, int64_t bias, int32_t mult, int32_t shift,
                                        int32_t act_min, int32_t act_max) {
  return pe_clamp(pe_mbqm64(pe_conv_add_wrap64(acc, bias), mult, shift), act_min, act_max);
}

/* Fused-activation clamp bounds must be ordered and inside the output type. */
static inline int pe_conv_act_ok(int32_t act_min, int32_t act_max, int32_t out_dtype) {
  const int32_t lo = out_dtype == PE_INT8 ? -128 : -32768;
  const int32_t hi = out_dtype == PE_INT8 ? 127 : 32767;
  return lo <= act_min && act_min <= act_max && act_max <= hi;
}

/* Zero points and clamp range of a conv/FC: int8 offsets (negated zero points) in [-127, 128],
   output zero point in [-128, 127]; int16 activations are symmetric (TFLite requires 0). */
static inline int pe_conv_offsets_ok(int is8, int32_t input_offset, int32_t output_offset,
                                     int32_t act_min, int32_t act_max, int32_t out_dtype) {
  if (is8) {
    if (input_offset < -127 || input_offset > 128 || output_offset < -128 || output_offset > 127) return 0;
  } else if (input_offset != 0 || output_offset != 0) {
    return 0;
  }
  return pe_conv_act_ok(act_min, act_max, out_dtype);
}

#endif
