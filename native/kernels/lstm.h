/* Parameters of the LSTM kernels: all fields int32_t so the layout is the same on every ABI. */
#ifndef PE_LSTM_H
#define PE_LSTM_H

#include "pe_kernel.h"

/* BEGIN CDEF */
typedef struct {
  int32_t unused; /* placeholder */
} pe_lstm_params;
/* END CDEF */

#endif
