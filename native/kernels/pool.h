/* Parameters of the pool kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_POOL_H
#define PE_POOL_H

#include "pe_kernel.h"

/* BEGIN CDEF */
typedef struct {
  int32_t unused; /* placeholder */
} pe_pool_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_reduce_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_arg_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_resize_params;
/* END CDEF */

#endif
