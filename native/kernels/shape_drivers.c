/* Driver of the 1-byte TRANSPOSE microkernels (x8_transpose.h): the permutation reduced to its
 * merged dims, split into tiles and row/column chunks over the caller's parallel-for hook. No
 * ISA code here. */
#include "shape.h"
#include "shape_drivers.h"

const pe_x8_transpose_ukernel pe_uk_x8_transpose__scalar = {pe_x8_transpose__scalar};
#if PE_X86_KERNELS
const pe_x8_transpose_ukernel pe_uk_x8_transpose__avx2 = {pe_x8_transpose__avx2};
const pe_x8_transpose_ukernel pe_uk_x8_transpose__avx512 = {pe_x8_transpose__avx512};
#endif
#if PE_NEON_KERNELS
const pe_x8_transpose_ukernel pe_uk_x8_transpose__neon = {pe_x8_transpose__neon};
#endif

/* The output's dims with their input strides (in elements), dims of 1 dropped and each pair of
   neighbours that is contiguous in the input too (outer stride = inner stride x inner size)
   merged: NCHW -> NHWC becomes [H*W, C] with strides [1, H*W]. */
typedef struct {
  int32_t rank;
  int64_t dims[PE_MAX_RANK];
  int64_t step[PE_MAX_RANK];
} merged_perm;

static void merge_perm(const pe_op_ctx *ctx, merged_perm *m) {
  const pe_transpose_params *p = (const pe_transpose_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  int64_t istride[PE_MAX_RANK], s = 1;
  int32_t d, k = 0;
  for (d = in.rank - 1; d >= 0; --d) {
    istride[d] = s;
    s *= in.dims[d];
  }
  for (d = 0; d < out.rank; ++d) {
    const int64_t n = out.dims[d], st = istride[p->perm[d]];
    if (n == 1) continue;
    if (k > 0 && m->step[k - 1] == st * n) {
      m->dims[k - 1] *= n;
      m->step[k - 1] = st;
    } else {
      m->dims[k] = n;
      m->step[k] = st;
      ++k;
    }
  }
  m->rank = k;
}

int pe_transpose__tiles_accepts(const pe_op_ctx *ctx) {
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  merged_perm m;
  int64_t n = 1;
  int32_t d;
  for (d = 0; d < out.rank; ++d) n *= out.dims[d];
  if (pe_dtype_size((uint32_t)in.dtype) != 1 || out.rank != in.rank || n == 0 || n > INT32_MAX) return 0;
  merge_perm(ctx, &m);
  return m.rank <= 1 || m.step[m.rank - 1] == 1 || m.step[m.rank - 2] == 1;
}

/* Elements per work item (a chunk of a tile, or of the runs) */
#define TRANSPOSE_ITEM 16384

typedef struct {
  pe_x8_transpose_fn fn;
  const uint8_t *src;
  uint8_t *dst;
  merged_perm m;
  int32_t lead;           /* dims before the tile (or before the runs' dim) */
  int64_t rows, cols;     /* tile: rows along the input's stride-1 dim, cols the last output dim */
  int64_t rb, cb, nrb, ncb; /* chunk sizes and counts */
} tiles_task;

/* Input offset of the tile (or run) `t` of the dims before `lead`. */
static int64_t lead_offset(const tiles_task *k, int64_t t) {
  int64_t o = 0;
  int32_t d;
  for (d = k->lead - 1; d >= 0; --d) {
    o += t % k->m.dims[d] * k->m.step[d];
    t /= k->m.dims[d];
  }
  return o;
}

static void tile_item(void *task, uint32_t item, uint32_t thread) {
  const tiles_task *k = (const tiles_task *)task;
  const int64_t per_tile = k->nrb * k->ncb, t = item / per_tile, rest = item % per_tile;
  const int64_t r0 = rest / k->ncb * k->rb, c0 = rest % k->ncb * k->cb;
  const int64_t rn = k->rows - r0 < k->rb ? k->rows - r0 : k->rb;
  const int64_t cn = k->cols - c0 < k->cb ? k->cols - c0 : k->cb;
  const int64_t src_stride = k->m.step[k->m.rank - 1];
  (void)thread;
  k->fn((size_t)rn, (size_t)cn, k->src + lead_offset(k, t) + r0 + c0 * src_stride, (size_t)src_stride,
        k->dst + t * k->rows * k->cols + r0 * k->cols + c0, (size_t)k->cols);
}

/* Runs: the last merged dim is contiguous in the input; item = rb runs of cols bytes */
static void run_item(void *task, uint32_t item, uint32_t thread) {
  const tiles_task *k = (const tiles_task *)task;
  const int64_t r0 = (int64_t)item * k->rb;
  const int64_t r1 = r0 + k->rb < k->rows ? r0 + k->rb : k->rows;
  int64_t r;
  (void)thread;
  for (r = r0; r < r1; ++r) memcpy(k->dst + r * k->cols, k->src + lead_offset(k, r), (size_t)k->cols);
}

pe_status pe_transpose__tiles(const pe_op_ctx *ctx) {
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  const int64_t n = pe_elems(&out);
  tiles_task k;
  int64_t items;
  memset(&k, 0, sizeof k);
  k.fn = ((const pe_x8_transpose_ukernel *)ctx->variant->ukernel)->fn;
  k.src = (const uint8_t *)in.data;
  k.dst = (uint8_t *)out.data;
  merge_perm(ctx, &k.m);
  if (k.m.rank <= 1) { /* the identity on the bytes */
    memcpy(k.dst, k.src, (size_t)n);
    return PE_OK;
  }
  k.cols = k.m.dims[k.m.rank - 1];
  if (k.m.step[k.m.rank - 1] == 1) {
    k.lead = k.m.rank - 1;
    k.rows = n / k.cols;
    k.rb = TRANSPOSE_ITEM / k.cols > 0 ? TRANSPOSE_ITEM / k.cols : 1;
    items = (k.rows + k.rb - 1) / k.rb;
    if (items > 0xFFFFFFFFll) return PE_ERR_SHAPE;
    pe_parallel(ctx, run_item, &k, (uint32_t)items);
    return PE_OK;
  }
  /* m.step[rank - 2] == 1 (accepts) */
  k.lead = k.m.rank - 2;
  k.rows = k.m.dims[k.m.rank - 2];
  if (k.cols <= 64) {
    k.cb = k.cols;
    k.rb = (TRANSPOSE_ITEM / k.cols) & ~(int64_t)63;
  } else if (k.rows <= 64) {
    k.rb = k.rows;
    k.cb = (TRANSPOSE_ITEM / k.rows) & ~(int64_t)63;
  } else {
    k.rb = k.cb = 128;
  }
  k.nrb = (k.rows + k.rb - 1) / k.rb;
  k.ncb = (k.cols + k.cb - 1) / k.cb;
  items = n / (k.rows * k.cols) * k.nrb * k.ncb;
  if (items > 0xFFFFFFFFll) return PE_ERR_SHAPE;
  pe_parallel(ctx, tile_item, &k, (uint32_t)items);
  return PE_OK;
}
