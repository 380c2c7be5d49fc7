/* Internal interface between the runtime and the kernels. */
#ifndef PE_KERNEL_H
#define PE_KERNEL_H

#include <stdint.h>
#include <string.h>

#include "pyedge.h"

/* x86 SIMD kernels are built (native/sources.txt lists them for x86_64 only). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(PE_SCALAR_ONLY)
#define PE_X86_KERNELS 1
#else
#define PE_X86_KERNELS 0
#endif

/* Arm SIMD kernels are built: NEON, dot product and i8mm files on AArch64; NEON files (compiled
   with -mfpu=neon, run only where HWCAP_NEON is set) on 32-bit Arm Linux. */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(PE_SCALAR_ONLY)
#define PE_ARM64_KERNELS 1
#else
#define PE_ARM64_KERNELS 0
#endif
#if defined(__arm__) && defined(__linux__) && defined(__GNUC__) && !defined(PE_SCALAR_ONLY)
#define PE_ARMV7_NEON_KERNELS 1
#else
#define PE_ARMV7_NEON_KERNELS 0
#endif
#define PE_NEON_KERNELS (PE_ARM64_KERNELS || PE_ARMV7_NEON_KERNELS)
/* Cortex-M DSP kernels (SMLAD on int16 pairs): M-profile cores with the DSP extension, fixed at
   compile time (no detection on a microcontroller; the *_dsp.c files are empty elsewhere). */
#if defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && \
    defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(PE_SCALAR_ONLY)
#define PE_DSP_KERNELS 1
#else
#define PE_DSP_KERNELS 0
#endif
/* Cortex-M Helium (MVE) kernels: Armv8.1-M cores with integer MVE (Cortex-M55/M85), fixed at
   compile time as DSP is. */
#if PE_DSP_KERNELS && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define PE_MVE_KERNELS 1
#else
#define PE_MVE_KERNELS 0
#endif

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PE_STATIC_ASSERT(cond, msg) _Static_assert(cond, #msg)
#else
#define PE_STATIC_ASSERT(cond, msg) typedef char pe_static_assert_##msg[(cond) ? 1 : -1]
#endif

struct pe_variant;

/* Everything one op needs. During model checking `it` and `scratch` are NULL and
   only constant tensors have data. */
typedef struct pe_op_ctx {
  pe_interp *it;
  const pe_model *m;
  const pe_op_rec *op;
  uint32_t op_index;
  const void *params;
  const int32_t *inputs;  /* tensor indices; -1 marks an absent optional input */
  const int32_t *outputs;
  uint32_t n_inputs;
  uint32_t n_outputs;
  uint8_t *scratch;
  uint32_t scratch_size;
  const struct pe_variant *variant; /* the row of native/kernels.def that runs (NULL: scalar) */
} pe_op_ctx;

typedef pe_status (*pe_check_fn)(const pe_op_ctx *ctx);
typedef pe_status (*pe_eval_fn)(const pe_op_ctx *ctx);
typedef int (*pe_accepts_fn)(const pe_op_ctx *ctx);

/* One row of the variant table (native/kernels.def): a kernel for `op` that needs `features`
   and reads weights packed in `layout`; `accepts` (NULL: always) narrows it to the shapes and
   types it handles; `ukernel` is the microkernel descriptor its driver calls. */
typedef struct pe_variant {
  uint32_t op;
  const char *name;
  uint32_t features;
  uint32_t layout;
  pe_eval_fn eval;
  pe_accepts_fn accepts;
  const void *ukernel;
} pe_variant;

/* Split [0, n) items over the interpreter's parallel_for (or run them here): fn(task, i). */
void pe_parallel(const pe_op_ctx *ctx, pe_task_fn fn, void *task, uint32_t n);
/* Threads that may run at once for this op (>= 1): the scratch holds that many slices. */
uint32_t pe_op_threads(const pe_op_ctx *ctx);

uint32_t pe_dtype_size(uint32_t dtype);
void *pe_tensor_ptr(const pe_model *m, pe_interp *it, int32_t index);
/* Run one subgraph (used by control-flow ops such as CALL_ONCE). */
pe_status pe_run_subgraph(pe_interp *it, uint32_t subgraph);

static inline pe_tensor pe_tensor_view(const pe_op_ctx *c, int32_t index) {
  pe_tensor t;
  memset(&t, 0, sizeof(t));
  t.index = index;
  if (index < 0) return t;
  {
    const pe_tensor_rec *r = &c->m->tensors[index];
    t.data = pe_tensor_ptr(c->m, c->it, index);
    t.dims = r->dims;
    t.rank = r->rank;
    t.dtype = r->dtype;
    t.bytes = r->bytes;
    t.scale = r->scale;
    t.zero_point = r->zero_point;
  }
  return t;
}

/* i-th input; .index is -1 and .data NULL when absent or out of range. */
static inline pe_tensor pe_input(const pe_op_ctx *c, uint32_t i) {
  return pe_tensor_view(c, i < c->n_inputs ? c->inputs[i] : -1);
}
static inline pe_tensor pe_output(const pe_op_ctx *c, uint32_t i) {
  return pe_tensor_view(c, i < c->n_outputs ? c->outputs[i] : -1);
}

static inline int32_t pe_elems(const pe_tensor *t) {
  int32_t n = 1, i;
  for (i = 0; i < t->rank; ++i) n *= t->dims[i];
  return n;
}
/* Size of dimension i counted from the end (i=0 is the innermost); 1 past the rank. */
static inline int32_t pe_dim_from_end(const pe_tensor *t, int32_t i) {
  return i < t->rank ? t->dims[t->rank - 1 - i] : 1;
}

/* Integer elements (int8, uint8, int16; anything else is read as int32). */
static inline int32_t pe_int_min(int32_t dtype) {
  switch (dtype) {
    case PE_INT8: return INT8_MIN;
    case PE_UINT8: return 0;
    case PE_INT16: return INT16_MIN;
    default: return INT32_MIN;
  }
}
static inline int32_t pe_int_max(int32_t dtype) {
  switch (dtype) {
    case PE_INT8: return INT8_MAX;
    case PE_UINT8: return UINT8_MAX;
    case PE_INT16: return INT16_MAX;
    default: return INT32_MAX;
  }
}
/* Element i, widened to int32. */
static inline int32_t pe_load_int(const void *data, int32_t dtype, int32_t i) {
  switch (dtype) {
    case PE_INT8: return ((const int8_t *)data)[i];
    case PE_UINT8: return ((const uint8_t *)data)[i];
    case PE_INT16: return ((const int16_t *)data)[i];
    default: return ((const int32_t *)data)[i];
  }
}
/* Store with a C cast (two's-complement truncation, like TFLite's static_cast<T>); callers
   clamp first wherever TFLite does. */
static inline void pe_store_int(void *data, int32_t dtype, int32_t i, int32_t v) {
  switch (dtype) {
    case PE_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
    case PE_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case PE_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
    default: ((int32_t *)data)[i] = v; break;
  }
}

/* Common checks for kernels' check functions. */
#define PE_CHECK(cond, status) \
  do {                         \
    if (!(cond)) return (status); \
  } while (0)

static inline int pe_same_shape(const pe_tensor *a, const pe_tensor *b) {
  int32_t i;
  if (a->rank != b->rank) return 0;
  for (i = 0; i < a->rank; ++i)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

/* ---------------------------------------------------------------------------
 * Integer arithmetic of TFLite's reference kernels (gemmlowp semantics, double
 * rounding as in TFLite's default build). All requantization goes through these.
 * ------------------------------------------------------------------------ */

static inline int32_t pe_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
  /* gemmlowp: (ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31, the division rounding toward zero. For
     ab < 0 that quotient is ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31), so both
     cases are one arithmetic shift of ab + 2^30 (on a 32-bit core: SMULL, ADDS/ADC, two shifts). */
  if (a == b && a == INT32_MIN) return INT32_MAX;
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

static inline int32_t pe_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^left with int32 wrap-around, as C++ `x * (1 << left)` does in practice. */
static inline int32_t pe_shl32(int32_t x, int left) {
  return (int32_t)((uint32_t)x << left);
}

/* TFLite MultiplyByQuantizedMultiplier(int32 x, int32 multiplier, int shift). */
static inline int32_t pe_mbqm(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return pe_rounding_divide_by_pot(pe_sat_rounding_doubling_high_mul(pe_shl32(x, left), multiplier),
                                   right);
}

/* TFLite MultiplyByQuantizedMultiplier(int64 x, ...), used by 16x8 kernels. TFLite assumes
   |x| < 2^47 and shift in [-31, 7] (debug asserts only); x is clamped to +-(2^48 - 1) so a hostile
   blob cannot make the product overflow int64. Callers' check functions bound the shift. */
static inline int32_t pe_mbqm64(int64_t x, int32_t multiplier, int shift) {
  const int64_t lim = ((int64_t)1 << 48) - 1;
  const int32_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int total_shift = 15 - shift;
  const int64_t round = (int64_t)1 << (total_shift - 1);
  int64_t r;
  x = x > lim ? lim : (x < -lim ? -lim : x);
  r = x * (int64_t)reduced + round;
  r = r >> total_shift;
  return (int32_t)r;
}

/* TFLite MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0). */
static inline int32_t pe_mbqm_smaller_than_one(int32_t x, int32_t multiplier, int left_shift) {
  return pe_rounding_divide_by_pot(pe_sat_rounding_doubling_high_mul(x, multiplier), -left_shift);
}

/* TFLite MultiplyByQuantizedMultiplierGreaterThanOne (left_shift >= 0). */
static inline int32_t pe_mbqm_greater_than_one(int32_t x, int32_t multiplier, int left_shift) {
  return pe_sat_rounding_doubling_high_mul(pe_shl32(x, left_shift), multiplier);
}

static inline int32_t pe_clamp(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* PE_KERNEL_H */
