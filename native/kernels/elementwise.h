/* Parameters of the elementwise kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_ELEMENTWISE_H
#define PE_ELEMENTWISE_H

#include "pe_kernel.h"

/* BEGIN CDEF */
typedef struct {
  int32_t unused; /* placeholder */
} pe_add_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_mul_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_minmax_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_prelu_params;
/* END CDEF */

#endif
