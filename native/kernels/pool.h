/* Parameters of the pooling, reduction, arg-min/max and resize kernels: all fields int32_t so
   the layout is the same on every ABI. */
#ifndef PE_POOL_H
#define PE_POOL_H

#include "pe_kernel.h"
#include "qs8_rowsum.h"

/* BEGIN CDEF */
/* AVERAGE_POOL_2D, MAX_POOL_2D on NHWC tensors (int8, uint8, int16; output type = input type).
   pad_h/pad_w are the top/left padding of TFLite's ComputePaddingHeightWidth. */
typedef struct {
  int32_t stride_h;
  int32_t stride_w;
  int32_t filter_h;
  int32_t filter_w;
  int32_t pad_h;
  int32_t pad_w;
  int32_t act_min; /* fused activation range, in output quantized units */
  int32_t act_max;
} pe_pool_params;

/* How MEAN / SUM turn the per-output sums into outputs (the path TFLite 2.14's reduce.cc takes). */
enum {
  PE_REDUCE_PLAIN = 0,    /* int32 MEAN: sum / count, truncated; int16/int32 SUM: wrap-around sum */
  PE_REDUCE_QUANTIZED = 1 /* reference_ops::QuantizedMeanOrSum: int8/int16 MEAN, int8/uint8 SUM */
};

/* MEAN, SUM. Output type = input type. */
typedef struct {
  int32_t mode;       /* PE_REDUCE_* */
  int32_t axis_mask;  /* bit d set: input dimension d is reduced */
  int32_t keep_dims;  /* reduced dims stay as 1 in the output (else they are dropped) */
  int32_t multiplier; /* PE_REDUCE_QUANTIZED: QuantizeMultiplier(input_scale / output_scale) */
  int32_t shift;
} pe_reduce_params;

/* ARG_MAX, ARG_MIN: index of the first extreme element along `axis`. */
typedef struct {
  int32_t axis; /* resolved, 0 <= axis < rank */
} pe_arg_params;

/* RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR on NHWC tensors; the output size is the output's
   H and W. */
typedef struct {
  int32_t align_corners;
  int32_t half_pixel_centers;
} pe_resize_params;
/* END CDEF */

/* int8 MEAN over one contiguous run of axes, summed along memory by a row-sum microkernel (a
   variant of native/kernels.def) */
extern const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum__scalar;
#if PE_X86_KERNELS
extern const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum_32x__avx2;
extern const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum_64x__avx512;
#endif
#if PE_NEON_KERNELS
extern const pe_qs8_rowsum_ukernel pe_uk_qs8_rowsum_16x__neon;
#endif
int pe_mean__rows_accepts(const pe_op_ctx *ctx);
pe_status pe_mean__rows(const pe_op_ctx *ctx);

#endif
