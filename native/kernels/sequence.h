/* Parameters of the sequence kernels (SVDF, resource variables, CALL_ONCE): all fields
   int32_t so the layout is the same on every ABI. */
#ifndef PE_SEQUENCE_H
#define PE_SEQUENCE_H

#include "pe_kernel.h"

/* BEGIN CDEF */
/* SVDF, integer path (TFLite reference_ops::EvalIntegerSVDF).
   inputs: input int8 [B, I], weights_feature int8 [F, I], weights_time int16 [F, M],
           bias int32 [F / rank] (or absent), activation state int16 [B, M * F] (variable);
   output: int8 [B, F / rank]. */
typedef struct {
  int32_t rank;
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t feature_multiplier; /* input * weights_feature -> state scale */
  int32_t feature_shift;
  int32_t time_multiplier;    /* state * weights_time -> output scale */
  int32_t time_shift;
} pe_svdf_params;
/* READ_VARIABLE (input: the variable's state tensor, output: the value) and
   ASSIGN_VARIABLE (input: the value, output: the variable's state tensor): a byte copy. */
typedef struct {
  int32_t reserved;
} pe_variable_params;
/* CALL_ONCE: output 0 is an int32[1] persistent done-flag; runs `subgraph` while it is 0. */
typedef struct {
  int32_t subgraph;
} pe_call_once_params;
/* END CDEF */

#endif
