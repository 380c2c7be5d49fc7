/* Parameters of the shape kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_SHAPE_H
#define PE_SHAPE_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* RESHAPE (also SQUEEZE, EXPAND_DIMS): same bytes, new shape. */
typedef struct {
  int32_t reserved;
} pe_reshape_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_concat_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_pad_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_transpose_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_slice_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_split_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_pack_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_gather_params;
/* END CDEF */

#endif
