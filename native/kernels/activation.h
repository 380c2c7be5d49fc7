/* Parameters of the activation kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_ACTIVATION_H
#define PE_ACTIVATION_H

#include "pe_kernel.h"

/* BEGIN CDEF */
typedef struct {
  int32_t unused; /* placeholder */
} pe_softmax_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_logistic_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_relu_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_hard_swish_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_leaky_relu_params;
typedef struct {
  int32_t unused; /* placeholder */
} pe_quantize_params;
/* END CDEF */

#endif
