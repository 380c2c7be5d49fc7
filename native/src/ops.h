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
  uint32_t inplace; /* PE_INPLACE_* (native/ops.def) */
} pe_op_entry;

extern const pe_op_entry pe_op_table[PE_OP_MAX];

const pe_op_entry *pe_op_lookup(uint32_t op);
/* Op codes as enum constants, for the variant table. */
#define PE_OP(code, NAME, lname, params_t, inplace) PE_OP_CODE_##NAME = code,
enum {
#include "../ops.def"
  PE_OP_CODE_END_
};
#undef PE_OP

/* The variant op ctx->op runs with `features` (native/kernels.def); NULL: the scalar reference
   of the op table (only for the generic layout). */
const pe_variant *pe_variant_for(const pe_op_ctx *ctx, uint32_t features);
/* Some variant of `op` reads `layout` on any CPU (its scalar twin), or layout is generic. */
int pe_layout_runs_everywhere(uint32_t op, uint32_t layout);

#endif
