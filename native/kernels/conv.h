/* Parameters of the conv kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_CONV_H
#define PE_CONV_H

#include "pe_kernel.h"

/* BEGIN CDEF */
typedef struct {
  int32_t unused; /* placeholder */
} pe_conv_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_fc_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_batch_matmul_params;
/* END CDEF */

#endif
