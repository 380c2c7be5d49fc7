/* Blob validation, arena binding and the interpreter loop. */
#include <string.h>

#include "ops.h"
#include "pe_kernel.h"
#include "shape.h"

#if defined(__linux__) || defined(__APPLE__) || defined(_WIN32)
#define PE_HAVE_GETENV 1
#include <stdlib.h>
#endif

PE_STATIC_ASSERT(sizeof(pe_section) == 8, section_size);
PE_STATIC_ASSERT(sizeof(pe_header) == 128, header_size);
PE_STATIC_ASSERT(sizeof(pe_tensor_rec) == 48, tensor_rec_size);
PE_STATIC_ASSERT(sizeof(pe_op_rec) == 40, op_rec_size);
PE_STATIC_ASSERT(sizeof(pe_subgraph_rec) == 32, subgraph_rec_size);
PE_STATIC_ASSERT(sizeof(float) == 4, float_size);

const char *pe_status_str(pe_status s) {
  switch (s) {
    case PE_OK: return "ok";
    case PE_ERR_TRUNCATED: return "blob is truncated";
    case PE_ERR_BAD_MAGIC: return "not a pyedge blob (bad magic)";
    case PE_ERR_VERSION: return "unsupported blob format version";
    case PE_ERR_CHECKSUM: return "blob checksum mismatch (corrupt blob)";
    case PE_ERR_CORRUPT: return "blob field out of range (corrupt blob)";
    case PE_ERR_ALIGNMENT: return "blob or arena is misaligned";
    case PE_ERR_UNSUPPORTED_OP: return "op not supported by this core";
    case PE_ERR_BAD_PARAMS: return "invalid op parameters";
    case PE_ERR_SHAPE: return "tensor shapes or dtypes do not fit the op";
    case PE_ERR_ARENA_TOO_SMALL: return "arena is smaller than the planned size";
    case PE_ERR_LAYOUT: return "blob packed for another target layout";
    case PE_ERR_RUNTIME: return "run-time error in a kernel";
    case PE_ERR_STATE: return "interpreter not initialised";
    case PE_ERR_ISA: return "ISA not available on this CPU";
  }
  return "unknown status";
}

/* CRC-32 (zlib polynomial), nibble table: small enough for microcontrollers. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
  static const uint32_t table[16] = {
      0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
      0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
      0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
  size_t i;
  for (i = 0; i < n; ++i) {
    crc ^= p[i];
    crc = (crc >> 4) ^ table[crc & 15u];
    crc = (crc >> 4) ^ table[crc & 15u];
  }
  return crc;
}

uint32_t pe_crc32(const void *data, size_t size) {
  return ~crc32_update(0xFFFFFFFFu, (const uint8_t *)data, size);
}

uint32_t pe_dtype_size(uint32_t dtype) {
  switch (dtype) {
    case PE_FLOAT32: return 4;
    case PE_INT32: return 4;
    case PE_UINT8: return 1;
    case PE_INT64: return 8;
    case PE_BOOL: return 1;
    case PE_INT16: return 2;
    case PE_INT8: return 1;
    case PE_RESOURCE: return 0;
    default: return 0xFFFFFFFFu;
  }
}

static int range_ok(uint32_t offset, uint32_t size, uint32_t limit) {
  return offset <= limit && size <= limit - offset;
}

static uint32_t align_up(uint32_t x) { return (x + (PE_ALIGN - 1u)) & ~(PE_ALIGN - 1u); }

static pe_status check_tensor(const pe_model *m, const pe_tensor_rec *t) {
  const pe_header *h = m->hdr;
  uint32_t esize = pe_dtype_size(t->dtype);
  uint64_t n = 1;
  uint32_t i;
  if (esize == 0xFFFFFFFFu) return PE_ERR_CORRUPT;
  if (t->rank > PE_MAX_RANK) return PE_ERR_CORRUPT;
  for (i = 0; i < t->rank; ++i) {
    if (t->dims[i] < 0) return PE_ERR_CORRUPT;
    n *= (uint64_t)t->dims[i];
    if (n > 0xFFFFFFFFu) return PE_ERR_CORRUPT;
  }
  if (n * esize != t->bytes) return PE_ERR_CORRUPT;
  switch (t->storage) {
    case PE_STORE_NONE:
      if (t->bytes != 0 && t->dtype != PE_RESOURCE) {
        /* shape-only tensor (unused); it has no data and no kernel may read it */
      }
      break;
    case PE_STORE_CONST:
      if (t->offset % PE_ALIGN != 0 || !range_ok(t->offset, t->bytes, m->consts_size))
        return PE_ERR_CORRUPT;
      break;
    case PE_STORE_ARENA:
      if (t->offset % PE_ALIGN != 0 || !range_ok(t->offset, t->bytes, h->arena_size))
        return PE_ERR_CORRUPT;
      break;
    case PE_STORE_STATE:
      if (t->offset % PE_ALIGN != 0 || !range_ok(t->offset, t->bytes, h->state_size))
        return PE_ERR_CORRUPT;
      break;
    default: return PE_ERR_CORRUPT;
  }
  if (t->quant != PE_NONE) {
    int32_t count;
    if (t->quant % 4 != 0 || !range_ok(t->quant, 8, m->quant_size)) return PE_ERR_CORRUPT;
    memcpy(&count, m->quant + t->quant, 4);
    if (count < 0 || (uint32_t)count > (m->quant_size - t->quant - 8) / 8) return PE_ERR_CORRUPT;
  }
  return PE_OK;
}

static int index_list_ok(const pe_model *m, uint32_t first, uint32_t count, int allow_absent) {
  uint32_t i;
  if (!range_ok(first, count, m->n_indices)) return 0;
  for (i = 0; i < count; ++i) {
    int32_t t = m->indices[first + i];
    if (t == -1 && allow_absent) continue;
    if (t < 0 || (uint32_t)t >= m->hdr->n_tensors) return 0;
  }
  return 1;
}

/* Every present input of an op has bytes to read and every output bytes to write, so kernels
   never see a NULL tensor (not even an empty one: memcpy/memmove need valid pointers). */
static int op_io_has_data(const pe_model *m, const pe_op_rec *op) {
  uint32_t k;
  for (k = 0; k < (uint32_t)op->n_inputs + op->n_outputs; ++k) {
    const int32_t t = m->indices[op->io + k];
    const pe_tensor_rec *r;
    if (t < 0) continue;
    r = &m->tensors[t];
    if (r->storage == PE_STORE_NONE) return 0;
    if (k >= op->n_inputs && r->storage == PE_STORE_CONST) return 0;
  }
  return 1;
}

static void op_ctx(const pe_model *m, pe_interp *it, uint32_t i, pe_op_ctx *c) {
  const pe_op_rec *op = &m->ops[i];
  c->it = it;
  c->m = m;
  c->op = op;
  c->op_index = i;
  c->params = m->params + op->params;
  c->inputs = m->indices + op->io;
  c->outputs = m->indices + op->io + op->n_inputs;
  c->n_inputs = op->n_inputs;
  c->n_outputs = op->n_outputs;
  c->scratch = NULL;
  c->scratch_size = op->scratch_size;
  c->variant = NULL;
  if (it != NULL && op->scratch_size > 0) c->scratch = it->arena + m->state_bytes + op->scratch;
}

static int list_has(const int32_t *list, uint32_t n, int32_t t) {
  uint32_t k;
  for (k = 0; k < n; ++k)
    if (list[k] == t) return 1;
  return 0;
}

/* Input k of op i (arena bytes [lo, hi)) may overlap output o (bytes [wlo, whi)). */
static int input_overlap_ok(const pe_model *m, uint32_t i, uint32_t k, uint32_t lo, uint32_t hi,
                            uint32_t o, uint32_t wlo, uint32_t whi) {
  const int exact = wlo == lo && whi == hi;
  const uint32_t inplace = pe_op_inplace(m->ops[i].op); /* native/ops.def */
  if (o != 0) return 0; /* every op that runs in place has one output */
  if (inplace & PE_INPLACE_ALIAS) return k == 0 && exact;
  if (k < 30 && (inplace >> k & 1u)) return exact;
  if ((inplace & PE_INPLACE_OFFSET) && k == 0) {
    pe_op_ctx c;
    op_ctx(m, NULL, i, &c);
    return lo >= wlo && (int64_t)(lo - wlo) == pe_pad_inplace_shift(&c) && hi <= whi;
  }
  return 0;
}

/* Bytes [lo, hi) of the arena (state region first) that tensor t may be written in; 0 if t is
   constant, absent or empty. */
static int writable_range(const pe_model *m, int32_t t, uint32_t *lo, uint32_t *hi) {
  const pe_tensor_rec *r;
  if (t < 0) return 0;
  r = &m->tensors[t];
  if (r->bytes == 0 || (r->storage != PE_STORE_ARENA && r->storage != PE_STORE_STATE)) return 0;
  *lo = (r->storage == PE_STORE_ARENA ? m->state_bytes : 0) + r->offset;
  *hi = *lo + r->bytes;
  return 1;
}

static int overlaps(uint32_t lo, uint32_t hi, uint32_t wlo, uint32_t whi) { return wlo < hi && lo < whi; }

/* Op i's outputs and scratch overlap each other never, and its inputs only in the arrangements
   its kernel runs in place (input_overlap_ok); a tensor that is both input and output is the
   kernel's own state. Kernels may then copy without caring about overlap. */
static int op_io_overlap_ok(const pe_model *m, uint32_t i) {
  const pe_op_rec *op = &m->ops[i];
  const int32_t *ins = m->indices + op->io;
  const int32_t *outs = ins + op->n_inputs;
  const uint32_t slo = m->state_bytes + op->scratch, shi = slo + op->scratch_size;
  uint32_t k, j, lo, hi, wlo, whi;
  for (j = 0; j < op->n_outputs; ++j) {
    if (!writable_range(m, outs[j], &wlo, &whi)) continue;
    if (op->scratch_size > 0 && overlaps(slo, shi, wlo, whi)) return 0;
    for (k = j + 1; k < op->n_outputs; ++k)
      if (outs[k] != outs[j] && writable_range(m, outs[k], &lo, &hi) && overlaps(lo, hi, wlo, whi)) return 0;
  }
  for (k = 0; k < op->n_inputs; ++k) {
    if (!writable_range(m, ins[k], &lo, &hi) || list_has(outs, op->n_outputs, ins[k])) continue;
    if (op->scratch_size > 0 && overlaps(lo, hi, slo, shi)) return 0;
    for (j = 0; j < op->n_outputs; ++j)
      if (writable_range(m, outs[j], &wlo, &whi) && overlaps(lo, hi, wlo, whi) &&
          !input_overlap_ok(m, i, k, lo, hi, j, wlo, whi))
        return 0;
  }
  return 1;
}


pe_status pe_model_init(pe_model *m, const void *blob, size_t size) {
  const uint8_t *b = (const uint8_t *)blob;
  const pe_header *h = (const pe_header *)blob;
  const pe_section *s;
  uint32_t i, crc;
  static const uint8_t zero4[4] = {0, 0, 0, 0};
  const uint32_t one = 1;

  memset(m, 0, sizeof(*m));
  if (blob == NULL) return PE_ERR_TRUNCATED;
  if (*(const uint8_t *)&one != 1) return PE_ERR_VERSION; /* big-endian hosts unsupported */
  if (((uintptr_t)blob) % PE_ALIGN != 0) return PE_ERR_ALIGNMENT;
  if (size < sizeof(pe_header)) return PE_ERR_TRUNCATED;
  if (h->magic != PE_MAGIC) return PE_ERR_BAD_MAGIC;
  if (h->version_major != PE_VERSION_MAJOR) return PE_ERR_VERSION;
  if (h->total_size > size) return PE_ERR_TRUNCATED;
  if (h->total_size < sizeof(pe_header)) return PE_ERR_CORRUPT;

  crc = crc32_update(0xFFFFFFFFu, b, offsetof(pe_header, checksum));
  crc = crc32_update(crc, zero4, 4);
  crc = crc32_update(crc, b + offsetof(pe_header, checksum) + 4,
                     h->total_size - offsetof(pe_header, checksum) - 4);
  if (~crc != h->checksum) return PE_ERR_CHECKSUM;
  if (h->header_size != sizeof(pe_header) || h->alignment != PE_ALIGN) return PE_ERR_CORRUPT;
  if (h->threads > 256u) return PE_ERR_CORRUPT;

  for (i = 0; i < PE_SEC_COUNT; ++i) {
    s = &h->sections[i];
    if (s->offset % 4 != 0 || !range_ok(s->offset, s->size, h->total_size)) return PE_ERR_CORRUPT;
  }
  s = h->sections;
  if (s[PE_SEC_CONST].offset % PE_ALIGN != 0) return PE_ERR_CORRUPT;
  if (s[PE_SEC_TENSORS].size != h->n_tensors * (uint64_t)sizeof(pe_tensor_rec) ||
      s[PE_SEC_OPS].size != h->n_ops * (uint64_t)sizeof(pe_op_rec) ||
      s[PE_SEC_SUBGRAPHS].size != h->n_subgraphs * (uint64_t)sizeof(pe_subgraph_rec) ||
      s[PE_SEC_INDICES].size % 4 != 0 || h->n_subgraphs == 0)
    return PE_ERR_CORRUPT;
  if (h->arena_size % PE_ALIGN != 0 || h->state_size > 0xFFFFFFFFu - PE_ALIGN ||
      align_up(h->state_size) > 0xFFFFFFFFu - h->arena_size)
    return PE_ERR_CORRUPT;

  m->blob = b;
  m->size = h->total_size;
  m->hdr = h;
  m->tensors = (const pe_tensor_rec *)(b + s[PE_SEC_TENSORS].offset);
  m->ops = (const pe_op_rec *)(b + s[PE_SEC_OPS].offset);
  m->subgraphs = (const pe_subgraph_rec *)(b + s[PE_SEC_SUBGRAPHS].offset);
  m->indices = (const int32_t *)(b + s[PE_SEC_INDICES].offset);
  m->n_indices = s[PE_SEC_INDICES].size / 4;
  m->params = b + s[PE_SEC_PARAMS].offset;
  m->params_size = s[PE_SEC_PARAMS].size;
  m->quant = b + s[PE_SEC_QUANT].offset;
  m->quant_size = s[PE_SEC_QUANT].size;
  m->consts = b + s[PE_SEC_CONST].offset;
  m->consts_size = s[PE_SEC_CONST].size;
  m->state_bytes = align_up(h->state_size);

  for (i = 0; i < h->n_tensors; ++i) {
    if (check_tensor(m, &m->tensors[i]) != PE_OK) goto corrupt;
  }
  for (i = 0; i < h->n_subgraphs; ++i) {
    const pe_subgraph_rec *g = &m->subgraphs[i];
    if (!range_ok(g->first_op, g->n_ops, h->n_ops) || !index_list_ok(m, g->inputs, g->n_inputs, 0) ||
        !index_list_ok(m, g->outputs, g->n_outputs, 0))
      goto corrupt;
  }
  for (i = 0; i < h->n_ops; ++i) /* a missing op first: it says more than a missing layout of another */
    if (pe_op_lookup(m->ops[i].op) == NULL) {
      memset(m, 0, sizeof(*m));
      return PE_ERR_UNSUPPORTED_OP;
    }
  for (i = 0; i < h->n_ops; ++i) {
    const pe_op_rec *op = &m->ops[i];
    const pe_op_entry *e = pe_op_lookup(op->op);
    if (op->params % 4 != 0 || !range_ok(op->params, op->params_size, m->params_size) ||
        !index_list_ok(m, op->io, (uint32_t)op->n_inputs + op->n_outputs, 1) ||
        !range_ok(op->scratch, op->scratch_size, h->arena_size))
      goto corrupt;
    if (op->reserved != 0) goto corrupt;
    if (!pe_layout_runs_everywhere(op->op, op->layout)) {
      memset(m, 0, sizeof(*m));
      return PE_ERR_LAYOUT;
    }
    if (op->params_size != e->params_size) {
      memset(m, 0, sizeof(*m));
      return PE_ERR_BAD_PARAMS;
    }
    if (!op_io_has_data(m, op)) goto corrupt;
  }
  for (i = 0; i < h->n_ops; ++i) {
    pe_op_ctx c;
    pe_status st;
    op_ctx(m, NULL, i, &c);
    st = pe_op_lookup(m->ops[i].op)->check(&c);
    /* after the op's check: PAD's in-place offset is computed from its (now valid) params */
    if (st == PE_OK && !op_io_overlap_ok(m, i)) st = PE_ERR_CORRUPT;
    if (st != PE_OK) {
      memset(m, 0, sizeof(*m));
      return st;
    }
  }
  return PE_OK;
corrupt:
  memset(m, 0, sizeof(*m));
  return PE_ERR_CORRUPT;
}

uint32_t pe_model_arena_bytes(const pe_model *m) {
  if (m == NULL || m->hdr == NULL) return 0;
  return m->state_bytes + m->hdr->arena_size;
}

void *pe_tensor_ptr(const pe_model *m, pe_interp *it, int32_t index) {
  const pe_tensor_rec *t;
  if (m == NULL || m->hdr == NULL || index < 0 || (uint32_t)index >= m->hdr->n_tensors) return NULL;
  t = &m->tensors[index];
  switch (t->storage) {
    case PE_STORE_CONST: return (void *)(m->consts + t->offset);
    case PE_STORE_ARENA: return it ? it->arena + m->state_bytes + t->offset : NULL;
    case PE_STORE_STATE: return it ? it->arena + t->offset : NULL;
    default: return NULL;
  }
}

void *pe_tensor_data(pe_interp *it, uint32_t index) {
  if (it == NULL || !it->initialised) return NULL;
  return pe_tensor_ptr(it->model, it, (int32_t)index);
}

uint32_t pe_model_max_threads(const pe_model *m) {
  if (m == NULL || m->hdr == NULL || m->hdr->threads == 0) return 1;
  return m->hdr->threads;
}

uint32_t pe_op_threads(const pe_op_ctx *ctx) {
  const pe_interp *it = ctx->it;
  uint32_t n = it != NULL && it->parallel_for != NULL && it->n_threads > 1 ? it->n_threads : 1;
  const uint32_t cap = pe_model_max_threads(ctx->m);
  return n < cap ? n : cap;
}

void pe_parallel(const pe_op_ctx *ctx, pe_task_fn fn, void *task, uint32_t n) {
  uint32_t i;
  if (n > 1 && pe_op_threads(ctx) > 1) {
    ctx->it->parallel_for(ctx->it->pool, fn, task, n);
    return;
  }
  for (i = 0; i < n; ++i) fn(task, i, 0);
}

/* The variant op i runs: the one bound at set-up, or the first the table gives. */
static const pe_variant *op_variant(const pe_interp *it, const pe_op_ctx *c, uint32_t i) {
  return it->variants != NULL ? (const pe_variant *)it->variants[i] : pe_variant_for(c, it->features);
}

const char *pe_op_variant(const pe_interp *it, uint32_t op_index) {
  pe_op_ctx c;
  const pe_variant *v;
  if (it == NULL || !it->initialised || op_index >= it->model->hdr->n_ops) return NULL;
  op_ctx(it->model, (pe_interp *)it, op_index, &c);
  v = op_variant(it, &c, op_index);
  return v != NULL ? v->name : "scalar";
}

pe_status pe_interp_bind_variants(pe_interp *it, const void **slots, uint32_t n) {
  uint32_t i;
  if (it == NULL || !it->initialised) return PE_ERR_STATE;
  if (slots == NULL || n != it->model->hdr->n_ops) return PE_ERR_BAD_PARAMS;
  it->variants = NULL;
  for (i = 0; i < n; ++i) {
    pe_op_ctx c;
    op_ctx(it->model, it, i, &c);
    slots[i] = pe_variant_for(&c, it->features);
  }
  it->variants = slots;
  return PE_OK;
}

pe_status pe_reset_state(pe_interp *it) {
  const pe_model *m;
  uint32_t i;
  if (it == NULL || !it->initialised) return PE_ERR_STATE;
  m = it->model;
  /* Only variable tensors, as TFLite's ResetVariableTensors(): resource variables and
     CALL_ONCE done-flags (other persistent state) keep their values. */
  for (i = 0; i < m->hdr->n_tensors; ++i) {
    const pe_tensor_rec *t = &m->tensors[i];
    if (t->storage == PE_STORE_STATE && (t->flags & PE_TF_VARIABLE))
      memset(it->arena + t->offset, t->dtype == PE_INT8 ? (int)(int8_t)t->zero_point : 0, t->bytes);
  }
  return PE_OK;
}

/* The debug plan check (described at its code below) is read once, at interpreter set-up. */
#if defined(PE_DEBUG_PLAN) || defined(PE_HAVE_GETENV)
#define PE_PLAN_CHECK 1

static int plan_check_on(void) {
#ifdef PE_DEBUG_PLAN
  return 1;
#else
  const char *v = getenv("PYEDGE_CHECK_PLAN");
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
#endif
}
#endif

pe_status pe_interp_init(pe_interp *it, const pe_model *m, void *arena, size_t arena_size, uint32_t features) {
  if (it == NULL) return PE_ERR_STATE;
  memset(it, 0, sizeof(*it));
  it->err_op = -1;
  if (m == NULL || m->hdr == NULL) return PE_ERR_STATE;
  if (arena == NULL || ((uintptr_t)arena) % PE_ALIGN != 0) return PE_ERR_ALIGNMENT;
  if (arena_size < pe_model_arena_bytes(m)) return PE_ERR_ARENA_TOO_SMALL;
  if ((features & ~pe_cpu_features()) != 0) return PE_ERR_ISA;
  it->model = m;
  it->arena = (uint8_t *)arena;
  it->arena_size = (uint32_t)(arena_size > 0xFFFFFFFFu ? 0xFFFFFFFFu : arena_size);
  it->features = features;
  it->initialised = 1;
#ifdef PE_PLAN_CHECK
  it->plan_check = (uint32_t)plan_check_on();
#endif
  memset(it->arena, 0, m->state_bytes); /* all persistent state starts zeroed */
  return pe_reset_state(it);
}

/* ---- run-time plan check (debug) ---------------------------------------------------------
   Compiled in with -DPE_DEBUG_PLAN (then always on), and on hosted builds switched on by the
   environment variable PYEDGE_CHECK_PLAN (any value but "" and "0"). Around every op it checks
   1. the plan: the op's outputs and scratch overlap no activation that was written before the
      op and is read after it (a subgraph's inputs count as written at its start, its outputs
      as read at its end); a RESHAPE output may share exactly its input's bytes; the scratch
      overlaps none of the op's inputs, and an output overlaps one of them only as the op can
      run in place: exactly, for RESHAPE and the in-place ops (inplace_inputs), or with PAD's
      input at pe_pad_inplace_shift bytes into its output;
   2. the kernel: no byte of the arena outside the op's outputs, its scratch and the state
      region changes; this covers bytes no buffer uses and any bytes the caller gave past the
      planned size (a guard zone).
   A violation fails the invoke with PE_ERR_RUNTIME at that op. Ops that run subgraphs are
   checked through their nested ops. It costs two passes over the arena per op: for tests and
   bring-up, not for production. pyedge.plan.check_plan applies rule 1 offline. */
#ifdef PE_PLAN_CHECK

/* Bytes [lo, hi) of it->arena holding tensor t; 0 if t has no activation bytes. */
static int arena_range(const pe_model *m, int32_t t, uint32_t *lo, uint32_t *hi) {
  const pe_tensor_rec *r;
  if (t < 0) return 0;
  r = &m->tensors[t];
  if (r->storage != PE_STORE_ARENA || r->bytes == 0) return 0;
  *lo = m->state_bytes + r->offset;
  *hi = *lo + r->bytes;
  return 1;
}

/* Rule 1 for op i of subgraph g. */
static int plan_ok(const pe_model *m, const pe_subgraph_rec *g, uint32_t i) {
  const pe_op_rec *op = &m->ops[i];
  const int32_t *outs = m->indices + op->io + op->n_inputs;
  const int reshape = (pe_op_inplace(op->op) & PE_INPLACE_ALIAS) != 0;
  const uint32_t end = g->first_op + g->n_ops;
  uint32_t t, j, k, lo, hi, wlo, whi;
  for (t = 0; t < m->hdr->n_tensors; ++t) {
    int defined, read_after;
    if (!arena_range(m, (int32_t)t, &lo, &hi) || list_has(outs, op->n_outputs, (int32_t)t)) continue;
    defined = list_has(m->indices + g->inputs, g->n_inputs, (int32_t)t);
    for (j = g->first_op; !defined && j < i; ++j)
      defined = list_has(m->indices + m->ops[j].io + m->ops[j].n_inputs, m->ops[j].n_outputs, (int32_t)t);
    if (!defined) continue;
    read_after = list_has(m->indices + g->outputs, g->n_outputs, (int32_t)t);
    for (j = i + 1; !read_after && j < end; ++j)
      read_after = list_has(m->indices + m->ops[j].io, m->ops[j].n_inputs, (int32_t)t);
    if (!read_after) continue;
    for (k = 0; k < op->n_outputs; ++k) {
      if (!arena_range(m, outs[k], &wlo, &whi)) continue;
      if (wlo < hi && lo < whi && !(reshape && wlo == lo && whi == hi)) return 0;
    }
    if (op->scratch_size > 0) {
      wlo = m->state_bytes + op->scratch;
      whi = wlo + op->scratch_size;
      if (wlo < hi && lo < whi) return 0;
    }
  }
  return 1;
}

/* FNV-1a over the arena past the state region, skipping op i's outputs and scratch. */
static uint64_t unwritable_hash(const pe_interp *it, uint32_t i) {
  const pe_model *m = it->model;
  const pe_op_rec *op = &m->ops[i];
  const int32_t *outs = m->indices + op->io + op->n_inputs;
  uint64_t h = 14695981039346656037ull;
  uint32_t x = m->state_bytes, k, lo, hi;
  while (x < it->arena_size) {
    uint32_t next = it->arena_size;
    int moved = 0;
    for (k = 0; k <= op->n_outputs; ++k) {
      if (k < op->n_outputs) {
        if (!arena_range(m, outs[k], &lo, &hi)) continue;
      } else {
        if (op->scratch_size == 0) continue;
        lo = m->state_bytes + op->scratch;
        hi = lo + op->scratch_size;
      }
      if (x >= lo && x < hi) {
        x = hi;
        moved = 1;
      } else if (lo > x && lo < next) {
        next = lo;
      }
    }
    if (moved) continue;
    for (; x < next; ++x) h = (h ^ it->arena[x]) * 1099511628211ull;
  }
  return h;
}
#endif

pe_status pe_run_subgraph(pe_interp *it, uint32_t subgraph) {
  const pe_model *m = it->model;
  const pe_subgraph_rec *g;
  uint32_t i;
#ifdef PE_PLAN_CHECK
  const int check = (int)it->plan_check;
#endif
  if (subgraph >= m->hdr->n_subgraphs) return PE_ERR_CORRUPT;
  if (it->depth >= PE_MAX_DEPTH) return PE_ERR_RUNTIME;
  g = &m->subgraphs[subgraph];
  it->depth++;
  for (i = g->first_op; i < g->first_op + g->n_ops; ++i) {
    pe_op_ctx c;
    pe_status st = PE_OK;
#ifdef PE_PLAN_CHECK
    const int check_op = check && (m->ops[i].op != PE_OP_CODE_CALL_ONCE);
    uint64_t before = 0;
    if (check_op) {
      if (!plan_ok(m, g, i))
        st = PE_ERR_RUNTIME; /* the op would write over a live activation */
      else
        before = unwritable_hash(it, i);
    }
#endif
    if (st == PE_OK) {
      const uint64_t t0 = it->on_op != NULL && it->clock != NULL ? it->clock(it->hook_user) : 0;
      op_ctx(m, it, i, &c);
      c.variant = op_variant(it, &c, i);
      if (c.variant != NULL)
        st = c.variant->eval(&c);
      else if (m->ops[i].layout == PE_LAYOUT_GENERIC && pe_op_lookup(m->ops[i].op)->eval != NULL)
        st = pe_op_lookup(m->ops[i].op)->eval(&c);
      else
        st = PE_ERR_LAYOUT;
      if (it->on_op != NULL && it->clock != NULL) it->on_op(it->hook_user, i, it->clock(it->hook_user) - t0);
    }
#ifdef PE_PLAN_CHECK
    if (st == PE_OK && check_op && unwritable_hash(it, i) != before) st = PE_ERR_RUNTIME;
#endif
    if (st != PE_OK) {
      if (it->err_op < 0) it->err_op = (int32_t)i;
      it->depth--;
      return st;
    }
  }
  it->depth--;
  return PE_OK;
}

pe_status pe_invoke(pe_interp *it) {
  pe_status st;
  if (it == NULL || !it->initialised) return PE_ERR_STATE;
  it->err_op = -1;
  it->depth = 0;
  st = pe_run_subgraph(it, 0);
  it->err_status = (int32_t)st;
  return st;
}
