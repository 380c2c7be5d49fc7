/* The op table built from native/ops.def. */
#ifndef PE_OPS_H
#define PE_OPS_H

#include "pe_kernel.h"

#define PE_OP_MAX 128u

typedef struct {
  const char *name;
  uint32_t params_size;
  pe_check_fn check;
  pe_eval_fn eval; /* scalar reference kernel */
} pe_op_entry;

extern const pe_op_entry pe_op_table[PE_OP_MAX];

const pe_op_entry *pe_op_lookup(uint32_t op);
/* Kernel to run for `op` at ISA level `isa` (falls back to scalar). */
pe_eval_fn pe_kernel_for(uint32_t op, uint32_t isa);

#endif
