/* Parameters of the data-movement kernels: all fields int32_t so the layout is the same on
 * every ABI. The kernels move elements by their byte size, so one kernel serves every dtype. */
#ifndef PE_SHAPE_H
#define PE_SHAPE_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* RESHAPE (also SQUEEZE, EXPAND_DIMS): same bytes, new shape. */
typedef struct {
  int32_t reserved;
} pe_reshape_params;

/* CONCATENATION (also PACK): the data inputs joined along `axis` of the output. An input of
   the output's rank contributes dims[axis] slices; an input of one rank less (PACK)
   contributes one slice. uint8 inputs whose scale or zero point differ from the output's are
   requantized as TFLite's ConcatenationWithScaling does (float arithmetic). */
typedef struct {
  int32_t axis; /* in [0, output rank) */
} pe_concat_params;

/* PAD, PADV2: inputs (x, value); value is a one-element tensor of x's dtype. */
typedef struct {
  int32_t before[6]; /* per dim of x, >= 0 */
  int32_t after[6];
} pe_pad_params;

/* TRANSPOSE: output dim i is input dim perm[i]. */
typedef struct {
  int32_t perm[6];
} pe_transpose_params;

/* STRIDED_SLICE (also SLICE): the input is viewed with shape dims[0..rank) (same element
   count); along dim d the output takes count[d] elements begin[d], begin[d] + stride[d], ...
   The lowering resolves TFLite's masks, ellipsis, new axes and clamping. */
typedef struct {
  int32_t rank; /* 0..6 */
  int32_t dims[6];
  int32_t begin[6];
  int32_t stride[6]; /* nonzero, may be negative */
  int32_t count[6];
} pe_slice_params;

/* SPLIT, SPLIT_V (also UNPACK): the input cut along `axis` into the outputs in order. An
   output of the input's rank takes dims[axis] slices; one of a rank less (UNPACK) takes one. */
typedef struct {
  int32_t axis; /* in [0, input rank) */
} pe_split_params;

/* GATHER: inputs (params, indices int16/int32/int64); for each batch and outer index, the
   slices of params along `axis` that the indices of that batch name. */
typedef struct {
  int32_t axis;       /* in [batch_dims, params rank) */
  int32_t batch_dims; /* in [0, indices rank] */
} pe_gather_params;

/* GATHER_ND: inputs (params, indices int16/int32/int64 [..., K], 1 <= K <= params rank); output
   indices.shape[:-1] + params.shape[K:], each index tuple's slice of params. No parameters. */
typedef struct {
  int32_t reserved; /* 0 */
} pe_gather_nd_params;

/* CAST: one input, one output of the same shape, each element converted as C++'s static_cast
   (TFLite's cast.cc): float32, int8, uint8, int16, int32, int64, bool; to bool: != 0. */
typedef struct {
  int32_t reserved; /* 0 */
} pe_cast_params;
/* END CDEF */

/* PAD in place (a PAD op that passed pe_pad_check): the byte offset inside output 0 at which
   input 0 may lie, the output position of input element 0 rounded down to PE_ALIGN. Any other
   overlap of the two is refused by the check, the kernel and the run-time plan check. */
int64_t pe_pad_inplace_shift(const pe_op_ctx *ctx);

#endif
