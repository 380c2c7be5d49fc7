/* Data-movement kernels: RESHAPE, CONCATENATION, PAD, TRANSPOSE, STRIDED_SLICE, SPLIT, GATHER,
 * GATHER_ND; CAST.
 *
 * Apart from CONCATENATION's uint8 requantization they only move elements, so they work on
 * element sizes and serve every dtype the core stores. Shapes are checked at load so that
 * every offset computed below stays inside its tensor. */
#include <math.h>

#include "shape.h"

/* Byte size of an element of a movable dtype, 0 for anything else (resource, unknown). */
static uint32_t elem_size(int32_t dtype) {
  uint32_t s = pe_dtype_size((uint32_t)dtype);
  return (s >= 1 && s <= 8) ? s : 0;
}

/* Product of dims[from..to) (1 if empty); tensor sizes are bounded by the runtime's checks. */
static int64_t dims_prod(const int32_t *dims, int32_t from, int32_t to) {
  int64_t n = 1;
  int32_t i;
  for (i = from; i < to; ++i) n *= dims[i];
  return n;
}

/* Product of the n values v (each >= 0) into *out; 0 if it exceeds 2^32 (no tensor is that
   large), so params-supplied shapes cannot overflow the offset arithmetic. */
static int checked_prod(const int32_t *v, int32_t n, int64_t *out) {
  int64_t p = 1;
  int32_t i;
  for (i = 0; i < n; ++i) {
    if (v[i] < 0) return 0;
    if (v[i] == 0) p = 0;
    else if (p > ((int64_t)1 << 32) / v[i]) return 0;
    else p *= v[i];
  }
  *out = p;
  return 1;
}

/* Element count of a tensor, in 64 bits (an int8 tensor may hold more than 2^31). */
static int64_t elems(const pe_tensor *t) { return dims_prod(t->dims, 0, t->rank); }

/* Row-major strides (in elements) of a shape. */
static void dims_strides(const int32_t *dims, int32_t rank, int64_t *strides) {
  int64_t s = 1;
  int32_t i;
  for (i = rank - 1; i >= 0; --i) {
    strides[i] = s;
    s *= dims[i];
  }
}

/* Advance a row-major multi-index over dims[0..rank); returns 0 once it wraps around. */
static int next_index(int32_t *idx, const int32_t *dims, int32_t rank) {
  int32_t i;
  for (i = rank - 1; i >= 0; --i) {
    if (++idx[i] < dims[i]) return 1;
    idx[i] = 0;
  }
  return 0;
}

/* ---- RESHAPE ------------------------------------------------------------------------- */

pe_status pe_reshape_check(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  /* a second input (TFLite's shape tensor) may be present; the shape comes from the output */
  PE_CHECK(ctx->n_inputs >= 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(in.dtype == out.dtype && in.bytes == out.bytes, PE_ERR_SHAPE);
  return PE_OK;
}

pe_status pe_reshape__scalar(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  if (in.data != out.data) memmove(out.data, in.data, out.bytes);
  return PE_OK;
}

/* ---- CONCATENATION (and PACK) ------------------------------------------------------------ */

/* Slices input `t` contributes along `axis` of `big` (the output), or -1 if its shape does
   not fit: same rank and equal dims except at axis, or one rank less with axis removed. */
static int64_t slices_along(const pe_tensor *t, const pe_tensor *big, int32_t axis) {
  int32_t d;
  if (t->rank == big->rank) {
    for (d = 0; d < big->rank; ++d)
      if (d != axis && t->dims[d] != big->dims[d]) return -1;
    return t->dims[axis];
  }
  if (t->rank == big->rank - 1) {
    for (d = 0; d < t->rank; ++d)
      if (t->dims[d] != big->dims[d < axis ? d : d + 1]) return -1;
    return 1;
  }
  return -1;
}

pe_status pe_concatenation_check(const pe_op_ctx *ctx) {
  const pe_concat_params *p = (const pe_concat_params *)ctx->params;
  pe_tensor out = pe_output(ctx, 0);
  int64_t total = 0;
  uint32_t i;
  PE_CHECK(ctx->n_inputs >= 1 && ctx->n_outputs == 1 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->axis >= 0 && p->axis < out.rank, PE_ERR_BAD_PARAMS);
  PE_CHECK(elem_size(out.dtype) != 0, PE_ERR_SHAPE);
  for (i = 0; i < ctx->n_inputs; ++i) {
    pe_tensor in = pe_input(ctx, i);
    int64_t n;
    PE_CHECK(in.index >= 0, PE_ERR_BAD_PARAMS);
    PE_CHECK(in.dtype == out.dtype, PE_ERR_SHAPE);
    n = slices_along(&in, &out, p->axis);
    PE_CHECK(n >= 0, PE_ERR_SHAPE);
    total += n;
  }
  PE_CHECK(total == out.dims[p->axis], PE_ERR_SHAPE);
  return PE_OK;
}

/* TFLite ConcatenationWithScaling for one uint8 block whose quantization differs from the
   output's: float scale and bias, rounded half away from zero, clamped to [0, 255]. */
static void requantize_u8(const uint8_t *src, uint8_t *dst, int64_t n, const pe_tensor *in,
                          const pe_tensor *out) {
  const float inverse_output_scale = 1.f / out->scale;
  const float scale = in->scale * inverse_output_scale;
  const float bias = (float)(-in->zero_point) * scale;
  int64_t j;
  for (j = 0; j < n; ++j) {
    float r = roundf((float)src[j] * scale + bias);
    int64_t v;
    /* keep the conversion defined; in-range values (all that sane scales give) are unchanged */
    if (!(r >= -2147483648.f)) r = -2147483648.f;
    if (r > 2147483520.f) r = 2147483520.f;
    v = (int64_t)(int32_t)r + out->zero_point;
    dst[j] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

pe_status pe_concatenation__scalar(const pe_op_ctx *ctx) {
  const pe_concat_params *p = (const pe_concat_params *)ctx->params;
  pe_tensor out = pe_output(ctx, 0);
  const uint32_t es = elem_size(out.dtype);
  const int64_t outer = dims_prod(out.dims, 0, p->axis);
  const int64_t inner = dims_prod(out.dims, p->axis + 1, out.rank);
  uint8_t *dst = (uint8_t *)out.data;
  int64_t k;
  uint32_t i;
  /* output = for each outer index, the inputs' blocks one after the other */
  for (k = 0; k < outer; ++k) {
    for (i = 0; i < ctx->n_inputs; ++i) {
      pe_tensor in = pe_input(ctx, i);
      const int64_t block = (in.rank == out.rank ? in.dims[p->axis] : 1) * inner;
      const uint8_t *src = (const uint8_t *)in.data + k * block * es;
      if (out.dtype == PE_UINT8 && !(in.zero_point == out.zero_point && in.scale == out.scale))
        requantize_u8(src, dst, block, &in, &out);
      else
        memcpy(dst, src, (size_t)(block * es));
      dst += block * es;
    }
  }
  return PE_OK;
}

/* ---- SPLIT, SPLIT_V (and UNPACK) ------------------------------------------------------------ */

pe_status pe_split_check(const pe_op_ctx *ctx) {
  const pe_split_params *p = (const pe_split_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0);
  int64_t total = 0;
  uint32_t i;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs >= 1 && in.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->axis >= 0 && p->axis < in.rank, PE_ERR_BAD_PARAMS);
  PE_CHECK(elem_size(in.dtype) != 0, PE_ERR_SHAPE);
  for (i = 0; i < ctx->n_outputs; ++i) {
    pe_tensor out = pe_output(ctx, i);
    int64_t n;
    PE_CHECK(out.index >= 0, PE_ERR_BAD_PARAMS);
    PE_CHECK(out.dtype == in.dtype, PE_ERR_SHAPE);
    n = slices_along(&out, &in, p->axis);
    PE_CHECK(n >= 0, PE_ERR_SHAPE);
    total += n;
  }
  PE_CHECK(total == in.dims[p->axis], PE_ERR_SHAPE);
  return PE_OK;
}

pe_status pe_split__scalar(const pe_op_ctx *ctx) {
  const pe_split_params *p = (const pe_split_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0);
  const uint32_t es = elem_size(in.dtype);
  const int64_t outer = dims_prod(in.dims, 0, p->axis);
  const int64_t inner = dims_prod(in.dims, p->axis + 1, in.rank);
  const uint8_t *src = (const uint8_t *)in.data;
  int64_t k;
  uint32_t i;
  /* the exact inverse of CONCATENATION */
  for (k = 0; k < outer; ++k) {
    for (i = 0; i < ctx->n_outputs; ++i) {
      pe_tensor out = pe_output(ctx, i);
      const int64_t block = (out.rank == in.rank ? out.dims[p->axis] : 1) * inner;
      memcpy((uint8_t *)out.data + k * block * es, src, (size_t)(block * es));
      src += block * es;
    }
  }
  return PE_OK;
}

/* ---- PAD, PADV2 ------------------------------------------------------------------------- */

/* PAD may run in place: the planner (pyedge/plan.py) may put the input inside the output, at
   byte `shift` = the output position of input element 0 (`lead`, in bytes) rounded down to
   PE_ALIGN. Input element i then starts at or below its final position, and the padding that
   precedes it in the output never decreases with i, so moving the input's contiguous runs to
   their places from the last run to the first never overwrites an input byte not yet moved.
   Any other overlap of input and output is refused (at load from the tensor records, at run
   time from the pointers). The pad value is copied before anything is written, so it may share
   bytes with either. */

/* Dimension whose padding ends a contiguous run: the innermost padded one (0 if none). Input
   dims k.. are contiguous in the output. */
static int32_t pad_run_dim(const pe_pad_params *p, int32_t rank) {
  int32_t k;
  for (k = rank - 1; k > 0; --k)
    if (p->before[k] != 0 || p->after[k] != 0) break;
  return k;
}

/* Byte offset in the output of input element 0 (the padding before it). */
static int64_t pad_lead_bytes(const pe_pad_params *p, const pe_tensor *out, uint32_t es) {
  int64_t ostride[PE_MAX_RANK], lead = 0;
  int32_t d;
  dims_strides(out->dims, out->rank, ostride);
  for (d = 0; d < out->rank; ++d) lead += (int64_t)p->before[d] * ostride[d];
  return lead * es;
}

/* Where the input may lie inside the output: `shift` bytes past its start. */
static int64_t pad_inplace_shift(const pe_pad_params *p, const pe_tensor *out, uint32_t es) {
  return pad_lead_bytes(p, out, es) & ~(int64_t)(PE_ALIGN - 1u);
}

int64_t pe_pad_inplace_shift(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  return pad_inplace_shift((const pe_pad_params *)ctx->params, &out, elem_size(in.dtype));
}

/* [lo, lo + n) and [lo2, lo2 + n2) intersect (empty ranges never do). */
static int ranges_meet(uint64_t lo, uint64_t n, uint64_t lo2, uint64_t n2) {
  return n > 0 && n2 > 0 && lo < lo2 + n2 && lo2 < lo + n;
}

pe_status pe_pad_check(const pe_op_ctx *ctx) {
  const pe_pad_params *p = (const pe_pad_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), value = pe_input(ctx, 1), out = pe_output(ctx, 0);
  int32_t d;
  PE_CHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && value.index >= 0 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(elem_size(in.dtype) != 0 && out.dtype == in.dtype && value.dtype == in.dtype,
           PE_ERR_SHAPE);
  PE_CHECK(elems(&value) == 1 && out.rank == in.rank, PE_ERR_SHAPE);
  for (d = 0; d < in.rank; ++d) {
    PE_CHECK(p->before[d] >= 0 && p->after[d] >= 0, PE_ERR_BAD_PARAMS);
    PE_CHECK((int64_t)in.dims[d] + p->before[d] + p->after[d] == out.dims[d], PE_ERR_SHAPE);
  }
  {
    /* input and output in the same region may overlap only as the in-place arrangement */
    const pe_tensor_rec *ri = &ctx->m->tensors[in.index], *ro = &ctx->m->tensors[out.index];
    if (ri->storage == ro->storage &&
        (ri->storage == PE_STORE_ARENA || ri->storage == PE_STORE_STATE) &&
        ranges_meet(ri->offset, ri->bytes, ro->offset, ro->bytes))
      PE_CHECK((int64_t)ri->offset - (int64_t)ro->offset ==
                   pad_inplace_shift(p, &out, elem_size(in.dtype)),
               PE_ERR_CORRUPT);
  }
  return PE_OK;
}

/* n elements of es bytes at dst, each a copy of v. */
static void fill_elems(uint8_t *dst, int64_t n, const uint8_t *v, uint32_t es) {
  int64_t done, total = n * es;
  if (total <= 0) return;
  memcpy(dst, v, es);
  for (done = es; done < total; done *= 2)
    memcpy(dst + done, dst, (size_t)(done < total - done ? done : total - done));
}

/* Fill the padding of output dims d.. below element `base` (row-major, in elements); dims
   before d are at input positions. The input's own elements (dims k.. of a run) are left. */
static void fill_padding(uint8_t *dst, const pe_pad_params *p, const pe_tensor *in,
                         const pe_tensor *out, const int64_t *ostride, int32_t d, int32_t k,
                         int64_t base, const uint8_t *v, uint32_t es) {
  const int64_t b = p->before[d], n = in->dims[d];
  int64_t i;
  fill_elems(dst + base * es, b * ostride[d], v, es);
  fill_elems(dst + (base + (b + n) * ostride[d]) * es, (out->dims[d] - b - n) * ostride[d], v, es);
  if (d == k) {
    /* the input run covers [b, b + n) of dim k entirely (dims past k are unpadded) */
    return;
  }
  for (i = 0; i < n; ++i)
    fill_padding(dst, p, in, out, ostride, d + 1, k, base + (b + i) * ostride[d], v, es);
}

pe_status pe_pad__scalar(const pe_op_ctx *ctx) {
  const pe_pad_params *p = (const pe_pad_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), value = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const uint32_t es = elem_size(in.dtype);
  const int32_t rank = in.rank;
  const int64_t n_out = elems(&out);
  int64_t ostride[PE_MAX_RANK];
  int32_t idx[PE_MAX_RANK] = {0, 0, 0, 0, 0, 0};
  int64_t j, rows, row_bytes;
  uint8_t *dst = (uint8_t *)out.data;
  const uint8_t *src = (const uint8_t *)in.data;
  uint8_t v[8];

  if (n_out == 0) return PE_OK;
  memcpy(v, value.data, es); /* before any output byte is written (it may share them) */
  if (ranges_meet((uintptr_t)src, in.bytes, (uintptr_t)dst, out.bytes)) {
    /* in place: only with the input at `shift` bytes into the output */
    const int64_t shift = pad_inplace_shift(p, &out, es);
    int32_t k, d;
    int64_t run_bytes;
    if ((uintptr_t)src - (uintptr_t)dst != (uint64_t)shift || (uintptr_t)src < (uintptr_t)dst)
      return PE_ERR_RUNTIME;
    if (rank == 0) return PE_OK; /* one element, already in place */
    k = pad_run_dim(p, rank);
    dims_strides(out.dims, rank, ostride);
    rows = dims_prod(in.dims, 0, k);
    run_bytes = dims_prod(in.dims, k, rank) * es;
    /* the last run first: its destination lies at or above its bytes, which lie above every
       earlier run's */
    for (d = 0; d < k; ++d) idx[d] = in.dims[d] - 1;
    for (j = rows - 1; j >= 0; --j) {
      int64_t o = (int64_t)p->before[k] * ostride[k];
      for (d = 0; d < k; ++d) o += (int64_t)(idx[d] + p->before[d]) * ostride[d];
      memmove(dst + o * es, src + j * run_bytes, (size_t)run_bytes);
      for (d = k - 1; d >= 0; --d) { /* previous row-major index over dims [0, k) */
        if (idx[d]-- > 0) break;
        idx[d] = in.dims[d] - 1;
      }
    }
    fill_padding(dst, p, &in, &out, ostride, 0, k, 0, v, es);
    return PE_OK;
  }

  /* everything is the pad value, then each innermost input row goes to its place */
  fill_elems(dst, n_out, v, es);
  if (rank == 0) {
    memcpy(dst, src, es);
    return PE_OK;
  }
  if (elems(&in) == 0) return PE_OK;
  dims_strides(out.dims, rank, ostride);
  rows = dims_prod(in.dims, 0, rank - 1);
  row_bytes = (int64_t)in.dims[rank - 1] * es;
  for (j = 0; j < rows; ++j) {
    int64_t o = p->before[rank - 1];
    int32_t d;
    for (d = 0; d < rank - 1; ++d) o += (int64_t)(idx[d] + p->before[d]) * ostride[d];
    memcpy(dst + o * es, src + j * row_bytes, (size_t)row_bytes);
    next_index(idx, in.dims, rank - 1);
  }
  return PE_OK;
}

/* ---- TRANSPOSE ------------------------------------------------------------------------- */

pe_status pe_transpose_check(const pe_op_ctx *ctx) {
  const pe_transpose_params *p = (const pe_transpose_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int seen[PE_MAX_RANK] = {0, 0, 0, 0, 0, 0};
  int32_t d;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(elem_size(in.dtype) != 0 && out.dtype == in.dtype && out.rank == in.rank,
           PE_ERR_SHAPE);
  for (d = 0; d < in.rank; ++d) {
    const int32_t s = p->perm[d];
    PE_CHECK(s >= 0 && s < in.rank && !seen[s], PE_ERR_BAD_PARAMS);
    seen[s] = 1;
    PE_CHECK(out.dims[d] == in.dims[s], PE_ERR_SHAPE);
  }
  return PE_OK;
}

/* One TRANSPOSE: the output walked in order, one tile of its last two dims at a time (a run of
   the last dim alone is too short when it is a few channels, e.g. NCHW -> NHWC): output index idx
   reads input element idx[d] along dim perm[d]; along the tile the input moves by those two
   dims' strides (step: the last output dim's, step2: the one before). Tiles are independent: the
   op's threads take them in turn. */
typedef struct {
  const uint8_t *src;
  uint8_t *dst;
  uint32_t es;
  int32_t rank;
  int32_t dims[PE_MAX_RANK];   /* the output's */
  int64_t sstep[PE_MAX_RANK];  /* input stride of output dim d */
  int64_t inner, outer, step, step2;
} transpose_task;

/* dst[r * c + i] = src[r + i * step] for r < outer, i < c: c planes interleaved (NCHW -> NHWC
   with a few channels), written so that the compiler vectorizes the interleave. */
#define PE_INTERLEAVE(c)                                                       \
  for (r = 0; r < t->outer; ++r)                                               \
    for (i = 0; i < (c); ++i) d[r * (c) + i] = sp[r + i * t->step];

static void transpose_tile(void *task, uint32_t item, uint32_t thread) {
  const transpose_task *t = (const transpose_task *)task;
  const int64_t j = (int64_t)item * t->inner * t->outer;
  int64_t o = 0, i, r, rest = item;
  int32_t d0;
  (void)thread;
  for (d0 = t->rank - 3; d0 >= 0; --d0) { /* the tile's index in the output dims before the last two */
    o += rest % t->dims[d0] * t->sstep[d0];
    rest /= t->dims[d0];
  }
  if (t->es == 1 && t->step2 == 1 && t->inner >= 2 && t->inner <= 4) {
    const uint8_t *sp = t->src + o;
    uint8_t *d = t->dst + j;
    switch (t->inner) {
      case 2: PE_INTERLEAVE(2) break;
      case 3: PE_INTERLEAVE(3) break;
      default: PE_INTERLEAVE(4) break;
    }
    return;
  }
  for (r = 0; r < t->outer; ++r, o += t->step2) {
    const int64_t jr = j + r * t->inner;
    uint8_t *dst = t->dst;
    const uint8_t *src = t->src;
    switch (t->es) {
      case 1:
        for (i = 0; i < t->inner; ++i) dst[jr + i] = src[o + i * t->step];
        break;
      case 2:
        for (i = 0; i < t->inner; ++i) memcpy(dst + (jr + i) * 2, src + (o + i * t->step) * 2, 2);
        break;
      case 4:
        for (i = 0; i < t->inner; ++i) memcpy(dst + (jr + i) * 4, src + (o + i * t->step) * 4, 4);
        break;
      default:
        for (i = 0; i < t->inner; ++i) memcpy(dst + (jr + i) * t->es, src + (o + i * t->step) * t->es, t->es);
        break;
    }
  }
}
#undef PE_INTERLEAVE

pe_status pe_transpose__scalar(const pe_op_ctx *ctx) {
  const pe_transpose_params *p = (const pe_transpose_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int32_t rank = in.rank;
  const int64_t n = elems(&out);
  int64_t istride[PE_MAX_RANK] = {0, 0, 0, 0, 0, 0};
  transpose_task t;
  int32_t d;
  memset(&t, 0, sizeof t);
  t.es = elem_size(in.dtype);
  t.src = (const uint8_t *)in.data;
  t.dst = (uint8_t *)out.data;
  t.rank = rank;
  if (rank == 0 || n == 0) {
    if (n > 0) memcpy(t.dst, t.src, t.es);
    return PE_OK;
  }
  dims_strides(in.dims, rank, istride);
  for (d = 0; d < rank; ++d) {
    t.dims[d] = out.dims[d];
    t.sstep[d] = istride[p->perm[d]];
  }
  t.inner = out.dims[rank - 1];
  t.step = istride[p->perm[rank - 1]];
  t.outer = 1;
  if (rank >= 2) {
    t.outer = out.dims[rank - 2];
    t.step2 = istride[p->perm[rank - 2]];
  }
  if (n / (t.inner * t.outer) > 0xFFFFFFFFll) return PE_ERR_SHAPE;
  pe_parallel(ctx, transpose_tile, &t, (uint32_t)(n / (t.inner * t.outer)));
  return PE_OK;
}

/* ---- STRIDED_SLICE (and SLICE) ----------------------------------------------------------- */

pe_status pe_strided_slice_check(const pe_op_ctx *ctx) {
  const pe_slice_params *p = (const pe_slice_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int64_t n_in, n;
  int32_t d;
  /* SLICE passes only the data input; STRIDED_SLICE's begin/end/strides may follow */
  PE_CHECK(ctx->n_inputs >= 1 && ctx->n_outputs == 1 && in.index >= 0 && out.index >= 0,
           PE_ERR_BAD_PARAMS);
  PE_CHECK(elem_size(in.dtype) != 0 && out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(p->rank >= 0 && p->rank <= PE_MAX_RANK, PE_ERR_BAD_PARAMS);
  PE_CHECK(checked_prod(p->dims, p->rank, &n_in) && checked_prod(p->count, p->rank, &n),
           PE_ERR_BAD_PARAMS);
  PE_CHECK(n_in == elems(&in) && n == elems(&out), PE_ERR_SHAPE);
  if (n == 0) return PE_OK;
  /* every index begin + i * stride, 0 <= i < count, lies in [0, dims) */
  for (d = 0; d < p->rank; ++d) {
    const int64_t last = (int64_t)p->begin[d] + (int64_t)(p->count[d] - 1) * p->stride[d];
    PE_CHECK(p->stride[d] != 0, PE_ERR_BAD_PARAMS);
    PE_CHECK(p->begin[d] >= 0 && p->begin[d] < p->dims[d], PE_ERR_BAD_PARAMS);
    PE_CHECK(last >= 0 && last < p->dims[d], PE_ERR_BAD_PARAMS);
  }
  return PE_OK;
}

pe_status pe_strided_slice__scalar(const pe_op_ctx *ctx) {
  const pe_slice_params *p = (const pe_slice_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const uint32_t es = elem_size(in.dtype);
  const int64_t n = elems(&out);
  int64_t istride[PE_MAX_RANK];
  int32_t idx[PE_MAX_RANK] = {0, 0, 0, 0, 0, 0};
  uint8_t *dst = (uint8_t *)out.data;
  const uint8_t *src = (const uint8_t *)in.data;
  int64_t j;
  if (n == 0) return PE_OK; /* (a zero-sized view may have dims whose strides overflow) */
  dims_strides(p->dims, p->rank, istride);
  for (j = 0; j < n; ++j) {
    int64_t o = 0;
    int32_t d;
    for (d = 0; d < p->rank; ++d)
      o += ((int64_t)p->begin[d] + (int64_t)idx[d] * p->stride[d]) * istride[d];
    memcpy(dst + j * es, src + o * es, es);
    next_index(idx, p->count, p->rank);
  }
  return PE_OK;
}

/* ---- GATHER ---------------------------------------------------------------------------- */

/* i-th index of an int16, int32 or int64 indices tensor. */
static int64_t index_at(const pe_tensor *ix, int64_t i) {
  switch (ix->dtype) {
    case PE_INT16: return ((const int16_t *)ix->data)[i];
    case PE_INT32: return ((const int32_t *)ix->data)[i];
    default: return ((const int64_t *)ix->data)[i];
  }
}

pe_status pe_gather_check(const pe_op_ctx *ctx) {
  const pe_gather_params *p = (const pe_gather_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), ix = pe_input(ctx, 1), out = pe_output(ctx, 0);
  int32_t d, o = 0;
  PE_CHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && ix.index >= 0 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(elem_size(in.dtype) != 0 && out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(ix.dtype == PE_INT16 || ix.dtype == PE_INT32 || ix.dtype == PE_INT64, PE_ERR_SHAPE);
  PE_CHECK(p->batch_dims >= 0 && p->batch_dims <= ix.rank, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->axis >= p->batch_dims && p->axis < in.rank, PE_ERR_BAD_PARAMS);
  for (d = 0; d < p->batch_dims; ++d) PE_CHECK(in.dims[d] == ix.dims[d], PE_ERR_SHAPE);
  /* output shape: in[:axis] + indices[batch_dims:] + in[axis+1:] */
  PE_CHECK(out.rank == in.rank + ix.rank - 1 - p->batch_dims, PE_ERR_SHAPE);
  for (d = 0; d < p->axis; ++d) PE_CHECK(out.dims[o++] == in.dims[d], PE_ERR_SHAPE);
  for (d = p->batch_dims; d < ix.rank; ++d) PE_CHECK(out.dims[o++] == ix.dims[d], PE_ERR_SHAPE);
  for (d = p->axis + 1; d < in.rank; ++d) PE_CHECK(out.dims[o++] == in.dims[d], PE_ERR_SHAPE);
  return PE_OK;
}

pe_status pe_gather__scalar(const pe_op_ctx *ctx) {
  const pe_gather_params *p = (const pe_gather_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), ix = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const uint32_t es = elem_size(in.dtype);
  const int64_t batches = dims_prod(in.dims, 0, p->batch_dims);
  const int64_t outer = dims_prod(in.dims, p->batch_dims, p->axis);
  const int64_t axis_size = in.dims[p->axis];
  const int64_t inner_bytes = dims_prod(in.dims, p->axis + 1, in.rank) * es;
  const int64_t coords = dims_prod(ix.dims, p->batch_dims, ix.rank);
  const uint8_t *src = (const uint8_t *)in.data;
  uint8_t *dst = (uint8_t *)out.data;
  int64_t b, k, i;
  /* indices come from data: reject any outside [0, axis_size) before writing (TFLite errors) */
  for (i = 0; i < batches * coords; ++i) {
    const int64_t c = index_at(&ix, i);
    if (c < 0 || c >= axis_size) return PE_ERR_RUNTIME;
  }
  for (b = 0; b < batches; ++b) {
    for (k = 0; k < outer; ++k) {
      for (i = 0; i < coords; ++i) {
        const int64_t c = index_at(&ix, b * coords + i);
        memcpy(dst + ((b * outer + k) * coords + i) * inner_bytes,
               src + ((b * outer + k) * axis_size + c) * inner_bytes, (size_t)inner_bytes);
      }
    }
  }
  return PE_OK;
}

/* ---- GATHER_ND ------------------------------------------------------------------------- */

pe_status pe_gather_nd_check(const pe_op_ctx *ctx) {
  const pe_gather_nd_params *p = (const pe_gather_nd_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), ix = pe_input(ctx, 1), out = pe_output(ctx, 0);
  int32_t d, o = 0, k;
  PE_CHECK(ctx->n_inputs == 2 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && ix.index >= 0 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->reserved == 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(elem_size(in.dtype) != 0 && out.dtype == in.dtype, PE_ERR_SHAPE);
  PE_CHECK(ix.dtype == PE_INT16 || ix.dtype == PE_INT32 || ix.dtype == PE_INT64, PE_ERR_SHAPE);
  PE_CHECK(ix.rank >= 1, PE_ERR_SHAPE);
  k = ix.dims[ix.rank - 1];
  PE_CHECK(k >= 1 && k <= in.rank, PE_ERR_SHAPE);
  /* output shape: indices[:-1] + params[k:] */
  PE_CHECK(out.rank == ix.rank - 1 + in.rank - k, PE_ERR_SHAPE);
  for (d = 0; d < ix.rank - 1; ++d) PE_CHECK(out.dims[o++] == ix.dims[d], PE_ERR_SHAPE);
  for (d = k; d < in.rank; ++d) PE_CHECK(out.dims[o++] == in.dims[d], PE_ERR_SHAPE);
  return PE_OK;
}

/* The slice (of `slices`) that index tuple i names, or -1 outside the params; sums wrap as
   int64 arithmetic. */
static int64_t nd_slice(const pe_tensor *ix, const pe_tensor *in, int64_t i, int32_t k, int64_t slices) {
  uint64_t pos = 0, below = (uint64_t)slices;
  int32_t j;
  for (j = 0; j < k; ++j) {
    const int64_t c = index_at(ix, i * k + j);
    if (c < 0) return -1; /* gather_nd.cc refuses negative indices first */
    below /= (uint64_t)in->dims[j];
    pos += (uint64_t)c * below;
  }
  return (int64_t)pos >= 0 && (int64_t)pos < slices ? (int64_t)pos : -1;
}

pe_status pe_gather_nd__scalar(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0), ix = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const uint32_t es = elem_size(in.dtype);
  const int32_t k = ix.dims[ix.rank - 1];
  const int64_t n = dims_prod(ix.dims, 0, ix.rank - 1);
  const int64_t slice = dims_prod(in.dims, k, in.rank) * es;
  const int64_t slices = dims_prod(in.dims, 0, k);
  const uint8_t *src = (const uint8_t *)in.data;
  uint8_t *dst = (uint8_t *)out.data;
  int64_t i;
  /* TFLite refuses negative indices, then reference_ops::GatherNd checks only the flat
     position, sum_j index[j] * (slices below dim j): one index may run past its dim into the
     next while the slice stays inside the params. Positions come from data: all are checked
     before any is written. */
  for (i = 0; i < n; ++i)
    if (nd_slice(&ix, &in, i, k, slices) < 0) return PE_ERR_RUNTIME;
  for (i = 0; i < n; ++i)
    memcpy(dst + i * slice, src + nd_slice(&ix, &in, i, k, slices) * slice, (size_t)slice);
  return PE_OK;
}

/* ---- CAST ------------------------------------------------------------------------------ */

static int cast_type(int32_t dtype) {
  return dtype == PE_FLOAT32 || dtype == PE_INT8 || dtype == PE_UINT8 || dtype == PE_INT16 ||
         dtype == PE_INT32 || dtype == PE_INT64 || dtype == PE_BOOL;
}

pe_status pe_cast_check(const pe_op_ctx *ctx) {
  const pe_cast_params *p = (const pe_cast_params *)ctx->params;
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int32_t d;
  PE_CHECK(ctx->n_inputs == 1 && ctx->n_outputs == 1, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.index >= 0 && out.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(p->reserved == 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(cast_type(in.dtype) && cast_type(out.dtype), PE_ERR_SHAPE);
  PE_CHECK(in.rank == out.rank, PE_ERR_SHAPE);
  for (d = 0; d < in.rank; ++d) PE_CHECK(in.dims[d] == out.dims[d], PE_ERR_SHAPE);
  return PE_OK;
}

/* An integer input element as int64; a float one goes through cast_float. */
static int64_t cast_load_int(const void *data, int32_t dtype, int64_t i) {
  switch (dtype) {
    case PE_INT8: return ((const int8_t *)data)[i];
    case PE_UINT8: return ((const uint8_t *)data)[i];
    case PE_BOOL: return ((const uint8_t *)data)[i] != 0;
    case PE_INT16: return ((const int16_t *)data)[i];
    case PE_INT32: return ((const int32_t *)data)[i];
    default: return ((const int64_t *)data)[i];
  }
}

/* Store an integer value as static_cast does: the low bits (two's complement), bool != 0. */
static void cast_store_int(void *data, int32_t dtype, int64_t i, int64_t v) {
  switch (dtype) {
    case PE_INT8: ((int8_t *)data)[i] = (int8_t)(uint8_t)(uint64_t)v; break;
    case PE_UINT8: ((uint8_t *)data)[i] = (uint8_t)(uint64_t)v; break;
    case PE_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case PE_INT16: ((int16_t *)data)[i] = (int16_t)(uint16_t)(uint64_t)v; break;
    case PE_INT32: ((int32_t *)data)[i] = (int32_t)(uint32_t)(uint64_t)v; break;
    case PE_FLOAT32: ((float *)data)[i] = (float)v; break;
    default: ((int64_t *)data)[i] = v; break;
  }
}

/* float -> integer as x86-64 compilers emit static_cast: truncation toward zero through a 32-bit
   conversion for types up to 32 bits (64-bit for int64); NaN and values outside that range give
   the conversion's "integer indefinite" (INT32_MIN, INT64_MIN), whose low bits are stored. Values
   inside the target type's range are exact everywhere; the rest is what TFLite does on x86-64. */
static int64_t cast_float(float f, int32_t dtype) {
  if (dtype == PE_INT64) {
    if (!(f > -9223372036854775808.0f && f < 9223372036854775808.0f)) return INT64_MIN;
    return (int64_t)f;
  }
  if (!(f > -2147483904.0f && f < 2147483648.0f)) return INT32_MIN;
  return (int32_t)f;
}

pe_status pe_cast__scalar(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int64_t n = elems(&in);
  int64_t i;
  for (i = 0; i < n; ++i) {
    if (in.dtype == PE_FLOAT32) {
      const float f = ((const float *)in.data)[i];
      if (out.dtype == PE_FLOAT32)
        ((float *)out.data)[i] = f;
      else if (out.dtype == PE_BOOL)
        ((uint8_t *)out.data)[i] = f != 0.0f;
      else
        cast_store_int(out.data, out.dtype, i, cast_float(f, out.dtype));
    } else {
      cast_store_int(out.data, out.dtype, i, cast_load_int(in.data, in.dtype, i));
    }
  }
  return PE_OK;
}

