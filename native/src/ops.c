/* Expansion of native/ops.def into the op table and kernel tables. */
#include "ops.h"

#include "activation.h"
#include "conv.h"
#include "elementwise.h"
#include "elementwise_drivers.h"
#include "dwconv_dm_drivers.h"
#include "gemm_drivers.h"
#include "lstm.h"
#include "pool.h"
#include "sequence.h"
#include "sequence_drivers.h"
#include "shape.h"

#define PE_OP(code, NAME, lname, params_t, inplace)       \
  pe_status pe_##lname##_check(const pe_op_ctx *ctx);     \
  pe_status pe_##lname##__scalar(const pe_op_ctx *ctx);
#include "../ops.def"
#undef PE_OP

#define PE_OP(code, NAME, lname, params_t, inplace) \
  [code] = {#NAME, (uint32_t)sizeof(params_t), pe_##lname##_check, pe_##lname##__scalar, inplace},
const pe_op_entry pe_op_table[PE_OP_MAX] = {
#include "../ops.def"
};
#undef PE_OP

#define PE_OP(code, NAME, lname, params_t, inplace) \
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

uint32_t pe_op_inplace(uint32_t op) {
  const pe_op_entry *e = pe_op_lookup(op);
  return e ? e->inplace : 0;
}

uint32_t pe_op_params_size(uint32_t op) {
  const pe_op_entry *e = pe_op_lookup(op);
  return e ? e->params_size : 0;
}

#define PE_VARIANT(NAME, variant, feats, layout, eval, accepts, uk) \
  {PE_OP_CODE_##NAME, variant, feats, layout, eval, accepts, uk},
const pe_variant pe_variant_table[] = {
#include "../kernels.def"
    {0, NULL, 0, 0, NULL, NULL, NULL}};
#undef PE_VARIANT

const pe_variant *pe_variant_for(const pe_op_ctx *ctx, uint32_t features) {
  const pe_variant *v;
  const uint32_t layout = ctx->op->layout;
  for (v = pe_variant_table; v->name != NULL; ++v)
    if (v->op == ctx->op->op && v->layout == layout && (v->features & ~features) == 0 &&
        (v->accepts == NULL || v->accepts(ctx)))
      return v;
  return NULL;
}

int pe_layout_runs_everywhere(uint32_t op, uint32_t layout) {
  const pe_variant *v;
  if (layout == PE_LAYOUT_GENERIC) return 1;
  for (v = pe_variant_table; v->name != NULL; ++v)
    if (v->op == op && v->layout == layout && v->features == 0 && v->accepts == NULL) return 1;
  return 0;
}

const char *pe_layout_name(uint32_t layout) {
  switch (layout) {
    case PE_LAYOUT_GENERIC: return "generic";
    case PE_LAYOUT_QS8_GEMM_N16K4: return "qs8_gemm_n16k4";
    case PE_LAYOUT_QS8_DWDM_PAIRS: return "qs8_dwdm_pairs";
    default: return NULL;
  }
}

uint32_t pe_variant_count(void) { return (uint32_t)(sizeof(pe_variant_table) / sizeof(pe_variant_table[0]) - 1u); }

const char *pe_variant_info(uint32_t i, uint32_t *op, uint32_t *features, uint32_t *layout) {
  const pe_variant *v;
  if (i >= pe_variant_count()) return NULL;
  v = &pe_variant_table[i];
  if (op != NULL) *op = v->op;
  if (features != NULL) *features = v->features;
  if (layout != NULL) *layout = v->layout;
  return v->name;
}
