/* Drivers of the elementwise microkernels: split the output into chunks over the caller's
 * parallel-for hook and call the variant's microkernel. No ISA code here. */
#include "elementwise.h"
#include "elementwise_drivers.h"

const pe_qs8_vadd_ukernel pe_uk_qs8_vadd__scalar = {pe_qs8_vadd__scalar, pe_qs16_vadd__scalar};
#if PE_X86_KERNELS
const pe_qs8_vadd_ukernel pe_uk_qs8_vadd_16x__avx2 = {pe_qs8_vadd_16x__avx2, pe_qs16_vadd_16x__avx2};
const pe_qs8_vadd_ukernel pe_uk_qs8_vadd_16x__avx512 = {pe_qs8_vadd_16x__avx512, pe_qs16_vadd_16x__avx512};
#endif
#if PE_NEON_KERNELS
const pe_qs8_vadd_ukernel pe_uk_qs8_vadd_16x__neon = {pe_qs8_vadd_16x__neon, pe_qs16_vadd_16x__neon};
#endif
const pe_qs8_prelu_ukernel pe_uk_qs8_prelu__scalar = {pe_qs8_prelu__scalar};
#if PE_X86_KERNELS
const pe_qs8_prelu_ukernel pe_uk_qs8_prelu_16x__avx2 = {pe_qs8_prelu_16x__avx2};
const pe_qs8_prelu_ukernel pe_uk_qs8_prelu_16x__avx512 = {pe_qs8_prelu_16x__avx512};
#endif
#if PE_NEON_KERNELS
const pe_qs8_prelu_ukernel pe_uk_qs8_prelu_16x__neon = {pe_qs8_prelu_16x__neon};
#endif

#define VADD_CHUNK 8192
/* uint8: elements flipped to int8 per piece, in buffers on the stack */
#define VADD_U8_PIECE 256

/* int8, or uint8 (TFLite's uint8 ADD/SUB is the int8 arithmetic on uint8 storage: run on the
   int8 microkernels with the inputs flipped, x - 128 with offset + 128, and the output stored
   with zero point - 128 and clamp - 128, then flipped back), or int16 with general scales (the
   same arithmetic on int16 storage: the fn16 kernels). */
int pe_add_sub__vadd_accepts(const pe_op_ctx *ctx) {
  const pe_add_params *p = (const pe_add_params *)ctx->params;
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const int32_t n = pe_elems(&out);
  if (p->kind != PE_ADD_RESCALE || (out.dtype != PE_INT8 && out.dtype != PE_UINT8 && out.dtype != PE_INT16) ||
      a.dtype != out.dtype ||
      b.dtype != out.dtype)
    return 0;
  return (pe_elems(&a) == n || pe_elems(&a) == 1) && (pe_elems(&b) == n || pe_elems(&b) == 1);
}

typedef struct {
  pe_qs8_vadd_fn fn;
  pe_qs16_vadd_fn fn16; /* int16 tensors (else NULL) */
  pe_qs8_vadd_params p;
  const int8_t *a, *b;
  size_t a_inc, b_inc, n;
  int8_t *out;
  int u8;
} vadd_task;

/* dst[i] = src[i * inc] ^ 0x80 for i < n (inc 0: one value) */
static void flip_in(int8_t *dst, const int8_t *src, size_t inc, size_t n) {
  size_t i;
  if (inc == 0) n = 1;
  for (i = 0; i < n; ++i) dst[i] = (int8_t)((uint8_t)src[i] ^ 0x80u);
}

static void vadd_item(void *task, uint32_t item, uint32_t thread) {
  const vadd_task *t = (const vadd_task *)task;
  const size_t i0 = (size_t)item * VADD_CHUNK;
  const size_t cnt = t->n - i0 < VADD_CHUNK ? t->n - i0 : VADD_CHUNK;
  size_t j, i;
  (void)thread;
  if (t->fn16 != NULL) {
    t->fn16(cnt, (const int16_t *)t->a + i0 * t->a_inc, t->a_inc, (const int16_t *)t->b + i0 * t->b_inc, t->b_inc,
            (int16_t *)t->out + i0, &t->p);
    return;
  }
  if (!t->u8) {
    t->fn(cnt, t->a + i0 * t->a_inc, t->a_inc, t->b + i0 * t->b_inc, t->b_inc, t->out + i0, &t->p);
    return;
  }
  for (j = 0; j < cnt; j += VADD_U8_PIECE) {
    int8_t a8[VADD_U8_PIECE], b8[VADD_U8_PIECE];
    const size_t m = cnt - j < VADD_U8_PIECE ? cnt - j : VADD_U8_PIECE;
    uint8_t *o = (uint8_t *)t->out + i0 + j;
    /* copies first: the output may be either input (in place) */
    flip_in(a8, t->a + (i0 + j) * t->a_inc, t->a_inc, m);
    flip_in(b8, t->b + (i0 + j) * t->b_inc, t->b_inc, m);
    t->fn(m, a8, t->a_inc, b8, t->b_inc, (int8_t *)o, &t->p);
    for (i = 0; i < m; ++i) o[i] ^= 0x80u;
  }
}

static pe_status vadd_eval(const pe_op_ctx *ctx, int32_t sign) {
  const pe_add_params *p = (const pe_add_params *)ctx->params;
  const pe_tensor a = pe_input(ctx, 0), b = pe_input(ctx, 1), out = pe_output(ctx, 0);
  vadd_task t;
  t.fn = ((const pe_qs8_vadd_ukernel *)ctx->variant->ukernel)->fn;
  t.fn16 = out.dtype == PE_INT16 ? ((const pe_qs8_vadd_ukernel *)ctx->variant->ukernel)->fn16 : NULL;
  t.p.left_shift = p->left_shift;
  t.p.a_offset = p->input1_offset;
  t.p.a_mult = p->input1_multiplier;
  t.p.a_shift = p->input1_shift;
  t.p.b_offset = p->input2_offset;
  t.p.b_mult = p->input2_multiplier;
  t.p.b_shift = p->input2_shift;
  t.p.out_mult = p->output_multiplier;
  t.p.out_shift = p->output_shift;
  t.p.out_offset = p->output_offset;
  t.p.act_min = p->activation_min;
  t.p.act_max = p->activation_max;
  t.p.sign = sign;
  t.u8 = out.dtype == PE_UINT8;
  if (t.u8) {
    t.p.a_offset += 128;
    t.p.b_offset += 128;
    t.p.out_offset -= 128;
    t.p.act_min -= 128;
    t.p.act_max -= 128;
  }
  t.n = (size_t)pe_elems(&out);
  t.a = (const int8_t *)a.data;
  t.b = (const int8_t *)b.data;
  t.a_inc = pe_elems(&a) == 1 && t.n != 1 ? 0 : 1;
  t.b_inc = pe_elems(&b) == 1 && t.n != 1 ? 0 : 1;
  t.out = (int8_t *)out.data;
  if (t.n > 0) pe_parallel(ctx, vadd_item, &t, (uint32_t)((t.n + VADD_CHUNK - 1) / VADD_CHUNK));
  return PE_OK;
}

pe_status pe_add__vadd(const pe_op_ctx *ctx) { return vadd_eval(ctx, 1); }
pe_status pe_sub__vadd(const pe_op_ctx *ctx) { return vadd_eval(ctx, -1); }

/* ---- PRELU ---------------------------------------------------------------------------- */

/* Elements of x over which alpha does not broadcast (the row the microkernel takes), or 0 when
   alpha's shape is not x's trailing dims with leading 1s (the scalar kernel takes those). */
static int32_t prelu_row(const pe_tensor *x, const pe_tensor *alpha) {
  int32_t row = 1, d, t;
  if (alpha->rank > x->rank) return 0;
  for (t = 0; t < alpha->rank; ++t) { /* alpha's dims from the last */
    const int32_t ad = alpha->dims[alpha->rank - 1 - t], xd = x->dims[x->rank - 1 - t];
    if (ad != xd) break;
    row *= xd;
  }
  for (d = 0; d < alpha->rank - t; ++d)
    if (alpha->dims[d] != 1) return 0;
  return row;
}

int pe_prelu__rows_accepts(const pe_op_ctx *ctx) {
  const pe_tensor x = pe_input(ctx, 0), alpha = pe_input(ctx, 1);
  return x.dtype == PE_INT8 && prelu_row(&x, &alpha) > 0;
}

#define PRELU_CHUNK 8192
/* rows shorter than this run together, alpha repeated in a buffer on the stack */
#define PRELU_REP 1024

typedef struct {
  pe_qs8_prelu_fn fn;
  const pe_prelu_params *p;
  const int8_t *x, *alpha;
  int8_t *out;
  size_t row, rows, rows_per_item;
} prelu_task;

static void prelu_item(void *task, uint32_t item, uint32_t thread) {
  const prelu_task *t = (const prelu_task *)task;
  const size_t r0 = (size_t)item * t->rows_per_item;
  const size_t r1 = r0 + t->rows_per_item < t->rows ? r0 + t->rows_per_item : t->rows;
  size_t r, i;
  (void)thread;
  if (t->row >= PRELU_REP / 2) {
    for (r = r0; r < r1; ++r) t->fn(t->row, t->x + r * t->row, t->alpha, t->out + r * t->row, t->p);
  } else { /* g rows at a time against g copies of alpha */
    int8_t rep[PRELU_REP];
    const size_t g = PRELU_REP / t->row;
    for (i = 0; i < g * t->row; ++i) rep[i] = t->alpha[i % t->row];
    for (r = r0; r < r1; r += g) {
      const size_t k = r1 - r < g ? r1 - r : g;
      t->fn(k * t->row, t->x + r * t->row, rep, t->out + r * t->row, t->p);
    }
  }
}

pe_status pe_prelu__rows(const pe_op_ctx *ctx) {
  const pe_prelu_params *p = (const pe_prelu_params *)ctx->params;
  const pe_tensor x = pe_input(ctx, 0), alpha = pe_input(ctx, 1), out = pe_output(ctx, 0);
  const size_t n = (size_t)pe_elems(&out);
  prelu_task t;
  t.fn = ((const pe_qs8_prelu_ukernel *)ctx->variant->ukernel)->fn;
  t.p = p;
  t.x = (const int8_t *)x.data;
  t.alpha = (const int8_t *)alpha.data;
  t.out = (int8_t *)out.data;
  t.row = (size_t)prelu_row(&x, &alpha);
  if (n == 0 || t.row == 0) return PE_OK; /* accepts() refused row 0 */
  t.rows = n / t.row;
  t.rows_per_item = PRELU_CHUNK / t.row > 0 ? PRELU_CHUNK / t.row : 1;
  pe_parallel(ctx, prelu_item, &t, (uint32_t)((t.rows + t.rows_per_item - 1) / t.rows_per_item));
  return PE_OK;
}
