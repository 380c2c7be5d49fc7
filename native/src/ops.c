/* Expansion of native/ops.def into the op table and kernel tables. */
#include "ops.h"

#include "activation.h"
#include "conv.h"
#include "elementwise.h"
#include "lstm.h"
#include "pool.h"
#include "sequence.h"
#include "shape.h"

#define PE_OP(code, NAME, lname, params_t)                \
  pe_status pe_##lname##_check(const pe_op_ctx *ctx);     \
  pe_status pe_##lname##__scalar(const pe_op_ctx *ctx);
#include "../ops.def"
#undef PE_OP

#define PE_OP(code, NAME, lname, params_t) \
  [code] = {#NAME, (uint32_t)sizeof(params_t), pe_##lname##_check, pe_##lname##__scalar},
const pe_op_entry pe_op_table[PE_OP_MAX] = {
#include "../ops.def"
};
#undef PE_OP

#define PE_OP(code, NAME, lname, params_t) \
  PE_STATIC_ASSERT(sizeof(params_t) % 4 == 0, lname##_params_multiple_of_4);
#include "../ops.def"
#undef PE_OP

const pe_op_entry *pe_op_lookup(uint32_t op) {
  if (op >= PE_OP_MAX || pe_op_table[op].name == NULL) return NULL;
  return &pe_op_table[op];
}

const char *pe_op_name(uint32_t op) {
  const pe_op_entry *e = pe_op_lookup(op);
  return e ? e->name : NULL;
}

uint32_t pe_op_count(void) { return PE_OP_MAX; }

uint32_t pe_op_params_size(uint32_t op) {
  const pe_op_entry *e = pe_op_lookup(op);
  return e ? e->params_size : 0;
}

pe_eval_fn pe_kernel_for(uint32_t op, uint32_t isa) {
  const pe_op_entry *e = pe_op_lookup(op);
  (void)isa; /* SIMD variants override entries here once they exist */
  return e ? e->eval : NULL;
}
