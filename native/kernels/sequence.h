/* Parameters of the sequence kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_SEQUENCE_H
#define PE_SEQUENCE_H

#include "pe_kernel.h"

/* BEGIN CDEF */
typedef struct {
  int32_t unused; /* placeholder */
} pe_svdf_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_variable_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_call_once_params;
/* END CDEF */

#endif
