/* Expansion of native/ops.def into the op table and kernel tables. */
#include "ops.h"

#include "activation.h"
#include "conv.h"
#include "conv16_drivers.h"
#include "elementwise.h"
#include "elementwise_drivers.h"
#include "dwconv_dm_drivers.h"
#include "gemm_drivers.h"
#include "qs4_dwconv.h"
#include "hybrid.h"
#include "lstm.h"
#include "pool.h"
#include "sequence.h"
#include "sequence_drivers.h"
#include "shape.h"
#include "shape_drivers.h"

/* Firmware for one model links only its ops: -DPE_OP_LIST='"model_ops.h"' (written by
   `pyedge pack --op-list`) defines PE_USE_OP_<NAME> and PE_USE_LAYOUT_<NAME>_<layout> as
   PE_PROBE for what the model uses; every other row of the op and variant tables expands to
   nothing, so --gc-sections drops its kernels. Without PE_OP_LIST every row is kept. */
#define PE_CAT_(a, b) a##b
#define PE_CAT(a, b) PE_CAT_(a, b)
#define PE_SECOND_(a, b, ...) b
#define PE_SECOND(...) PE_SECOND_(__VA_ARGS__, )
#define PE_PROBE ~, 1
#define PE_IS_PROBE(x) PE_SECOND(x, 0)
#define PE_IF_1(...) __VA_ARGS__
#define PE_IF_0(...)
#define PE_IF(c) PE_CAT(PE_IF_, c)
#define PE_IFELSE_1(a, b) a
#define PE_IFELSE_0(a, b) b
#define PE_IFELSE(c) PE_CAT(PE_IFELSE_, c)
#ifdef PE_OP_LIST
#include PE_OP_LIST
#define PE_KEEP_OP(NAME) PE_IF(PE_IS_PROBE(PE_CAT(PE_USE_OP_, NAME)))
#define PE_KEEP_VARIANT(NAME, layout) PE_IF(PE_IS_PROBE(PE_CAT(PE_CAT(PE_USE_LAYOUT_, NAME), PE_CAT(_, layout))))
/* an op's scalar eval runs its TFLite (generic) layout only: kept when the model has the op in
   that layout (a model whose convolutions are all packed links no generic convolution) */
#define PE_SCALAR_EVAL(NAME, fn) \
  PE_IFELSE(PE_IS_PROBE(PE_CAT(PE_CAT(PE_USE_LAYOUT_, NAME), PE_CAT(_, PE_LAYOUT_GENERIC))))(fn, NULL)
/* the 16x8 rows of kernels.def share the int8 GEMM layout: kept when the model has int16 tensors */
#ifdef PE_USE_INT16
#define PE_INT16_KERNELS 1
#else
#define PE_INT16_KERNELS 0
#endif
#else
#define PE_INT16_KERNELS 1
#define PE_KEEP_OP(NAME) PE_IF_1
#define PE_KEEP_VARIANT(NAME, layout) PE_IF_1
#define PE_SCALAR_EVAL(NAME, fn) fn
#endif

#define PE_OP(code, NAME, lname, params_t, inplace)       \
  pe_status pe_##lname##_check(const pe_op_ctx *ctx);     \
  pe_status pe_##lname##__scalar(const pe_op_ctx *ctx);
#include "../ops.def"
#undef PE_OP

#define PE_OP(code, NAME, lname, params_t, inplace) \
  PE_KEEP_OP(NAME)([code] = {#NAME, (uint32_t)sizeof(params_t), pe_##lname##_check,          \
                             PE_SCALAR_EVAL(NAME, pe_##lname##__scalar), inplace}, )
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
  PE_KEEP_VARIANT(NAME, layout)({PE_OP_CODE_##NAME, variant, feats, layout, eval, accepts, uk}, )
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
  if (layout == PE_LAYOUT_GENERIC) { /* the op's scalar eval (not linked when only packed layouts were listed) */
    const pe_op_entry *e = pe_op_lookup(op);
    return e != NULL && e->eval != NULL;
  }
  for (v = pe_variant_table; v->name != NULL; ++v)
    if (v->op == op && v->layout == layout && v->features == 0 && v->accepts == NULL) return 1;
  return 0;
}

const char *pe_layout_name(uint32_t layout) {
  switch (layout) {
    case PE_LAYOUT_GENERIC: return "generic";
    case PE_LAYOUT_QS8_GEMM_N16K4: return "qs8_gemm_n16k4";
    case PE_LAYOUT_QS8_DWDM_PAIRS: return "qs8_dwdm_pairs";
    case PE_LAYOUT_QS4_GEMM_N16K8: return "qs4_gemm_n16k8";
    case PE_LAYOUT_QS4_DW: return "qs4_dw";
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
