/* Drivers of the 16x8 CONV_2D and FULLY_CONNECTED variants (int16 activations, int8 weights in
 * TFLite's own layout): per output pixel (conv) or row (FC), the window's runs go to the
 * variant's dot-product microkernel (qs16_dot.h) four channels at a time, and each exact int64
 * sum is requantized exactly as the scalar reference does it (conv_scalar.c, fc_scalar.c):
 * TFLite accumulates in int32 (wrapping; 32-bit MultiplyByQuantizedMultiplier) when the bias is
 * int32, else in int64 (64-bit multiplier); FULLY_CONNECTED without a bias takes the int32 path,
 * CONV_2D without one the int64 path. No ISA code here. */
#include <string.h>

#include "conv.h"
#include "conv16_drivers.h"
#include "qs8_gemm.h"

const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__scalar = {pe_qs16_dot_4c__scalar, pe_qs16_dw_px__scalar};
#if PE_X86_KERNELS
const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx2 = {pe_qs16_dot_4c__avx2, pe_qs16_dw_px__avx2};
const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx512 = {pe_qs16_dot_4c__avx512, pe_qs16_dw_px__avx512};
/* VNNI adds nothing to the depthwise products (one per lane): the AVX-512 kernel */
const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__avx512vnni = {pe_qs16_dot_4c__avx512vnni, pe_qs16_dw_px__avx512};
#endif
#if PE_NEON_KERNELS
const pe_qs16_dot_ukernel pe_uk_qs16_dot_4c__neon = {pe_qs16_dot_4c__neon, pe_qs16_dw_px__neon};
#endif

typedef struct {
  pe_qs16_dot_fn fn;
  const void *uk;
  const int16_t *x;
  const int8_t *f;
  const void *bias;
  int bias64;      /* int64 bias (else int32, or none) */
  int acc64;       /* requantize in int64 (else the wrapped int32 path) */
  const int32_t *mult, *shift;
  int16_t *out;
  int32_t act_min, act_max;
  int32_t oc, f_size; /* channels; filter elements per channel (k) */
  /* conv geometry */
  int32_t in_h, in_w, in_c, out_h, out_w, kh, kw, sh, sw, dh, dw, ph, pw;
  int32_t rows, chunk; /* FC: input rows; channels per item */
} conv16_task;

static int16_t requant16(const conv16_task *t, int32_t oc, int64_t acc) {
  if (!t->acc64)
    return (int16_t)pe_conv_requant32(acc, t->bias != NULL ? ((const int32_t *)t->bias)[oc] : 0, t->mult[oc],
                                      t->shift[oc], 0, t->act_min, t->act_max);
  return (int16_t)pe_conv_requant64(acc, t->bias != NULL ? ((const int64_t *)t->bias)[oc] : 0, t->mult[oc],
                                    t->shift[oc], t->act_min, t->act_max);
}

/* channels c0 .. c1 - 1 of one output pixel or row */
static void channels(const conv16_task *t, const pe_qs16_window *w, const int16_t *x, int32_t f_first, int32_t c0,
                     int32_t c1, int16_t *out) {
  int64_t acc[PE_QS16_DOT_NC];
  int32_t oc, j;
  for (oc = c0; oc < c1; oc += PE_QS16_DOT_NC) {
    const int32_t nc = c1 - oc < PE_QS16_DOT_NC ? c1 - oc : PE_QS16_DOT_NC;
    if (w->rows > 0 && w->runs > 0)
      t->fn(w, x, t->f + (size_t)oc * (size_t)t->f_size + f_first, (size_t)t->f_size, (size_t)nc, acc);
    else
      memset(acc, 0, sizeof acc);
    for (j = 0; j < nc; ++j) out[oc + j] = requant16(t, oc + j, acc[j]);
  }
}

/* first and one-past-last tap k of a window axis with start + k * dilation in [0, size) */
static void valid_taps(int32_t start, int32_t dilation, int32_t size, int32_t taps, int32_t *lo, int32_t *hi) {
  int32_t a = 0, b = taps;
  while (a < b && start + a * dilation < 0) ++a;
  while (b > a && start + (b - 1) * dilation >= size) --b;
  *lo = a;
  *hi = b;
}

static void conv16_row(void *task, uint32_t item, uint32_t thread) {
  const conv16_task *t = (const conv16_task *)task;
  const int32_t b = (int32_t)item / t->out_h, oy = (int32_t)item % t->out_h;
  const int32_t y0 = oy * t->sh - t->ph;
  int32_t fy0, fy1, ox;
  int16_t *out = t->out + ((size_t)b * t->out_h + oy) * t->out_w * t->oc;
  (void)thread;
  valid_taps(y0, t->dh, t->in_h, t->kh, &fy0, &fy1);
  for (ox = 0; ox < t->out_w; ++ox, out += t->oc) {
    const int32_t x0 = ox * t->sw - t->pw;
    int32_t fx0, fx1;
    pe_qs16_window w;
    const int16_t *x = t->x;
    int32_t f_first = 0;
    valid_taps(x0, t->dw, t->in_w, t->kw, &fx0, &fx1);
    memset(&w, 0, sizeof w);
    w.rows = fy1 - fy0;
    if (w.rows > 0 && fx1 > fx0) {
      const int32_t cols = fx1 - fx0;
      x += (((size_t)b * t->in_h + y0 + fy0 * t->dh) * t->in_w + x0 + fx0 * t->dw) * t->in_c;
      f_first = (fy0 * t->kw + fx0) * t->in_c;
      w.in_row = t->dh * t->in_w * t->in_c;
      w.f_row = t->kw * t->in_c;
      if (t->dw == 1) { /* the row's valid taps are one run of the input and of the filter */
        w.runs = 1;
        w.len = cols * t->in_c;
      } else {
        w.runs = cols;
        w.len = t->in_c;
        w.in_run = t->dw * t->in_c;
        w.f_run = t->in_c;
      }
    }
    channels(t, &w, x, f_first, 0, t->oc, out);
  }
}

int pe_conv_2d__dot16_accepts(const pe_op_ctx *ctx) {
  const pe_tensor in = pe_input(ctx, 0), filt = pe_input(ctx, 1);
  return in.dtype == PE_INT16 && filt.rank == 4 && in.rank == 4 && filt.dims[3] == in.dims[3];
}

pe_status pe_conv_2d__dot16(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), filt = pe_input(ctx, 1), bias = pe_input(ctx, 2);
  const pe_tensor out = pe_output(ctx, 0);
  conv16_task t;
  memset(&t, 0, sizeof t);
  t.fn = ((const pe_qs16_dot_ukernel *)ctx->variant->ukernel)->fn;
  t.x = (const int16_t *)in.data;
  t.f = (const int8_t *)filt.data;
  t.bias = bias.index >= 0 ? bias.data : NULL;
  t.bias64 = bias.index >= 0 && bias.dtype == PE_INT64;
  t.acc64 = !(bias.index >= 0 && bias.dtype == PE_INT32);
  t.mult = (const int32_t *)pe_input(ctx, 3).data;
  t.shift = (const int32_t *)pe_input(ctx, 4).data;
  t.out = (int16_t *)out.data;
  t.act_min = p->act_min;
  t.act_max = p->act_max;
  t.in_h = in.dims[1];
  t.in_w = in.dims[2];
  t.in_c = in.dims[3];
  t.out_h = out.dims[1];
  t.out_w = out.dims[2];
  t.oc = out.dims[3];
  t.kh = filt.dims[1];
  t.kw = filt.dims[2];
  t.sh = p->stride_h;
  t.sw = p->stride_w;
  t.dh = p->dilation_h;
  t.dw = p->dilation_w;
  t.ph = p->pad_h;
  t.pw = p->pad_w;
  t.f_size = t.kh * t.kw * t.in_c;
  if (out.dims[0] * t.out_h > 0 && t.out_w > 0 && t.oc > 0)
    pe_parallel(ctx, conv16_row, &t, (uint32_t)(out.dims[0] * t.out_h));
  return PE_OK;
}

/* DEPTHWISE_CONV_2D, multiplier 1: channel c reads input channel c; filter [1, KH, KW, C] */
#define DW_CHUNK 256

static void dw16_row(void *task, uint32_t item, uint32_t thread) {
  const conv16_task *t = (const conv16_task *)task;
  const int32_t b = (int32_t)item / t->out_h, oy = (int32_t)item % t->out_h;
  const int32_t y0 = oy * t->sh - t->ph;
  const pe_qs16_dw_fn dw = ((const pe_qs16_dot_ukernel *)t->uk)->dw;
  int64_t acc[DW_CHUNK];
  int32_t fy0, fy1, ox, c0, c;
  int16_t *out = t->out + ((size_t)b * t->out_h + oy) * t->out_w * t->oc;
  (void)thread;
  valid_taps(y0, t->dh, t->in_h, t->kh, &fy0, &fy1);
  for (ox = 0; ox < t->out_w; ++ox, out += t->oc) {
    const int32_t x0 = ox * t->sw - t->pw;
    int32_t fx0, fx1;
    pe_qs16_taps w;
    const int16_t *x = t->x;
    const int8_t *f = t->f;
    valid_taps(x0, t->dw, t->in_w, t->kw, &fx0, &fx1);
    w.rows = fy1 - fy0;
    w.cols = fx1 - fx0;
    w.in_row = t->dh * t->in_w * t->in_c;
    w.in_col = t->dw * t->in_c;
    w.f_row = t->kw * t->oc;
    w.f_col = t->oc;
    if (w.rows > 0 && w.cols > 0) {
      x += (((size_t)b * t->in_h + y0 + fy0 * t->dh) * t->in_w + x0 + fx0 * t->dw) * t->in_c;
      f += (fy0 * t->kw + fx0) * t->oc;
    }
    for (c0 = 0; c0 < t->oc; c0 += DW_CHUNK) {
      const int32_t n = t->oc - c0 < DW_CHUNK ? t->oc - c0 : DW_CHUNK;
      if (w.rows > 0 && w.cols > 0)
        dw(&w, x + c0, f + c0, (size_t)n, acc);
      else
        memset(acc, 0, (size_t)n * sizeof(int64_t));
      for (c = 0; c < n; ++c) out[c0 + c] = requant16(t, c0 + c, acc[c]);
    }
  }
}

int pe_depthwise_conv_2d__dot16_accepts(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), filt = pe_input(ctx, 1);
  return in.dtype == PE_INT16 && p->depth_multiplier == 1 && filt.rank == 4 && in.rank == 4;
}

pe_status pe_depthwise_conv_2d__dot16(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), filt = pe_input(ctx, 1), bias = pe_input(ctx, 2);
  const pe_tensor out = pe_output(ctx, 0);
  conv16_task t;
  memset(&t, 0, sizeof t);
  t.uk = ctx->variant->ukernel;
  t.x = (const int16_t *)in.data;
  t.f = (const int8_t *)filt.data;
  t.bias = bias.index >= 0 ? bias.data : NULL;
  t.acc64 = !(bias.index >= 0 && bias.dtype == PE_INT32);
  t.mult = (const int32_t *)pe_input(ctx, 3).data;
  t.shift = (const int32_t *)pe_input(ctx, 4).data;
  t.out = (int16_t *)out.data;
  t.act_min = p->act_min;
  t.act_max = p->act_max;
  t.in_h = in.dims[1];
  t.in_w = in.dims[2];
  t.in_c = in.dims[3];
  t.out_h = out.dims[1];
  t.out_w = out.dims[2];
  t.oc = out.dims[3];
  t.kh = filt.dims[1];
  t.kw = filt.dims[2];
  t.sh = p->stride_h;
  t.sw = p->stride_w;
  t.dh = p->dilation_h;
  t.dw = p->dilation_w;
  t.ph = p->pad_h;
  t.pw = p->pad_w;
  if (out.dims[0] * t.out_h > 0 && t.out_w > 0 && t.oc > 0)
    pe_parallel(ctx, dw16_row, &t, (uint32_t)(out.dims[0] * t.out_h));
  return PE_OK;
}

/* FC: item i is row i / chunks, channels of chunk i % chunks */
static void fc16_item(void *task, uint32_t item, uint32_t thread) {
  const conv16_task *t = (const conv16_task *)task;
  const int32_t chunks = (t->oc + t->chunk - 1) / t->chunk;
  const int32_t row = (int32_t)item / chunks, c0 = ((int32_t)item % chunks) * t->chunk;
  const int32_t c1 = c0 + t->chunk < t->oc ? c0 + t->chunk : t->oc;
  pe_qs16_window w;
  (void)thread;
  memset(&w, 0, sizeof w);
  w.rows = 1;
  w.runs = 1;
  w.len = t->f_size;
  channels(t, &w, t->x + (size_t)row * t->f_size, 0, c0, c1, t->out + (size_t)row * t->oc);
}

int pe_fully_connected__dot16_accepts(const pe_op_ctx *ctx) {
  const pe_fc_params *p = (const pe_fc_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), w = pe_input(ctx, 1);
  return in.dtype == PE_INT16 && w.rank == 2 && p->input_offset == 0 && p->filter_offset == 0;
}

pe_status pe_fully_connected__dot16(const pe_op_ctx *ctx) {
  const pe_fc_params *p = (const pe_fc_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), wt = pe_input(ctx, 1), bias = pe_input(ctx, 2);
  const pe_tensor out = pe_output(ctx, 0);
  const uint32_t threads = pe_op_threads(ctx);
  conv16_task t;
  int32_t chunks;
  memset(&t, 0, sizeof t);
  t.fn = ((const pe_qs16_dot_ukernel *)ctx->variant->ukernel)->fn;
  t.x = (const int16_t *)in.data;
  t.f = (const int8_t *)wt.data;
  t.bias = bias.index >= 0 ? bias.data : NULL;
  t.bias64 = bias.index >= 0 && bias.dtype == PE_INT64;
  t.acc64 = t.bias64;
  t.mult = (const int32_t *)pe_input(ctx, 3).data;
  t.shift = (const int32_t *)pe_input(ctx, 4).data;
  t.out = (int16_t *)out.data;
  t.act_min = p->act_min;
  t.act_max = p->act_max;
  t.f_size = p->depth;
  t.oc = wt.dims[0];
  t.rows = (int32_t)(pe_conv_elems(&in) / p->depth);
  /* few rows: split the channels too, so that every thread has work */
  chunks = 1;
  if (threads > 1 && (uint32_t)t.rows < 4u * threads) {
    chunks = (int32_t)(4u * threads) / (t.rows > 0 ? t.rows : 1);
    if (chunks > (t.oc + PE_QS16_DOT_NC - 1) / PE_QS16_DOT_NC) chunks = (t.oc + PE_QS16_DOT_NC - 1) / PE_QS16_DOT_NC;
    if (chunks < 1) chunks = 1;
  }
  t.chunk = (t.oc + chunks - 1) / chunks;
  t.chunk = (t.chunk + PE_QS16_DOT_NC - 1) / PE_QS16_DOT_NC * PE_QS16_DOT_NC;
  chunks = (t.oc + t.chunk - 1) / t.chunk;
  if (t.rows > 0 && t.oc > 0) pe_parallel(ctx, fc16_item, &t, (uint32_t)(t.rows * chunks));
  return PE_OK;
}

/* ---------------------------------------------------------------- 16x8 GEMM, packed layout */

const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_1x16c4__scalar = {pe_qs16_gemm_1x16c4__scalar, 1,
                                                             pe_qs16_requant64__scalar};
#if PE_X86_KERNELS
const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_2x16c4__avx2 = {pe_qs16_gemm_2x16c4__avx2, 2, pe_qs16_requant64__scalar};
const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_8x16c4__avx512 = {pe_qs16_gemm_8x16c4__avx512, 8,
                                                             pe_qs16_requant64__avx512};
const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_8x16c4__avx512vnni = {pe_qs16_gemm_8x16c4__avx512vnni, 8,
                                                                 pe_qs16_requant64__avx512};
#endif
#if PE_NEON_KERNELS
const pe_qs16_gemm_ukernel pe_uk_qs16_gemm_1x16c4__neon = {pe_qs16_gemm_1x16c4__neon, 1, pe_qs16_requant64__scalar};
#endif

static uint32_t round_up16(uint32_t x, uint32_t m) { return (x + m - 1u) / m * m; }

uint32_t pe_gemm16_scratch_bytes(int32_t k, int32_t rows, uint32_t threads) {
  if (k < 1 || rows < 1) return 0;
  return round_up16((uint32_t)(rows < PE_QS16_GEMM_MR_MAX ? rows : PE_QS16_GEMM_MR_MAX) * 2u *
                        round_up16((uint32_t)k, PE_GEMM_KR),
                    16u) *
         (threads ? threads : 1u);
}

pe_status pe_gemm16_scratch_check(const pe_op_ctx *ctx, int32_t k, int32_t rows) {
  PE_CHECK(k >= 1 && k <= (1 << 24) && rows >= 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->scratch_size >= pe_gemm16_scratch_bytes(k, rows, pe_model_max_threads(ctx->m)), PE_ERR_CORRUPT);
  return PE_OK;
}

int pe_gemm16_accepts(const pe_op_ctx *ctx) { return pe_input(ctx, 0).dtype == PE_INT16; }

typedef struct {
  const pe_op_ctx *ctx;
  const pe_qs16_gemm_ukernel *uk;
  int32_t rows, oc, k, kp, nblocks, bchunks, bchunk;
  const int16_t *x;
  const int8_t *w; /* the layout's weight blocks */
  const int32_t *mult, *shift;
  const void *bias;
  int bias32;      /* an int32 bias: TFLite's int32 accumulator, wrapped (else int64) */
  int16_t *out;
  int32_t act_min, act_max;
  size_t panel_bytes;
  int conv, direct;
  int32_t in_h, in_w, in_c, out_h, out_w, kh, kw, sh, sw, dh, dw, ph, pw;
} gemm16_task;

static void fill_row16(const gemm16_task *t, int32_t b, int32_t oy, int32_t ox, int16_t *row) {
  const int32_t y0 = oy * t->sh - t->ph, x0 = ox * t->sw - t->pw;
  const int32_t run = t->kw * t->in_c;
  const int inside_x = t->dw == 1 && x0 >= 0 && x0 + t->kw <= t->in_w;
  int32_t fy, fx;
  int16_t *o = row;
  for (fy = 0; fy < t->kh; ++fy) {
    const int32_t iy = y0 + fy * t->dh;
    const int16_t *xrow;
    if (iy < 0 || iy >= t->in_h) {
      memset(o, 0, (size_t)run * sizeof(int16_t));
      o += run;
      continue;
    }
    xrow = t->x + ((size_t)b * t->in_h + iy) * t->in_w * t->in_c;
    if (inside_x) {
      memcpy(o, xrow + (size_t)x0 * t->in_c, (size_t)run * sizeof(int16_t));
      o += run;
      continue;
    }
    for (fx = 0; fx < t->kw; ++fx, o += t->in_c) {
      const int32_t ix = x0 + fx * t->dw;
      if (ix < 0 || ix >= t->in_w)
        memset(o, 0, (size_t)t->in_c * sizeof(int16_t));
      else
        memcpy(o, xrow + (size_t)ix * t->in_c, (size_t)t->in_c * sizeof(int16_t));
    }
  }
  if (t->kp > t->k) memset(row + t->k, 0, (size_t)(t->kp - t->k) * sizeof(int16_t));
}

/* The tile's rows: the input itself when its rows are the panel's (FC, 1x1 convs, k = kp), else
   copied (zeros past k) or im2col rows. */
static const int16_t *panel16(const gemm16_task *t, int32_t r0, int32_t nr, int16_t *panel) {
  int32_t r;
  if ((!t->conv || t->direct) && t->kp == t->k) return t->x + (size_t)r0 * t->k;
  if (!t->conv || t->direct) {
    for (r = 0; r < nr; ++r) {
      memcpy(panel + (size_t)r * t->kp, t->x + (size_t)(r0 + r) * t->k, (size_t)t->k * sizeof(int16_t));
      memset(panel + (size_t)r * t->kp + t->k, 0, (size_t)(t->kp - t->k) * sizeof(int16_t));
    }
    return panel;
  }
  {
    int32_t ox = r0 % t->out_w, q = r0 / t->out_w, oy = q % t->out_h, b = q / t->out_h;
    for (r = 0; r < nr; ++r) {
      fill_row16(t, b, oy, ox, panel + (size_t)r * t->kp);
      if (++ox == t->out_w) {
        ox = 0;
        if (++oy == t->out_h) {
          oy = 0;
          ++b;
        }
      }
    }
  }
  return panel;
}

static void gemm16_item(void *task, uint32_t item, uint32_t thread) {
  const gemm16_task *t = (const gemm16_task *)task;
  const int32_t mr = (int32_t)t->uk->mr;
  const int32_t tile = (int32_t)item / t->bchunks, chunk = (int32_t)item % t->bchunks;
  const int32_t r0 = tile * mr, nr = t->rows - r0 < mr ? t->rows - r0 : mr;
  const int32_t b0 = chunk * t->bchunk;
  const int32_t b1 = b0 + t->bchunk < t->nblocks ? b0 + t->bchunk : t->nblocks;
  int16_t *panel = (int16_t *)(t->ctx->scratch + (size_t)thread * t->panel_bytes);
  const int16_t *a = panel16(t, r0, nr, panel);
  int64_t acc[PE_QS16_GEMM_MR_MAX * PE_GEMM_NR];
  int32_t blk, r, n;
  for (blk = b0; blk < b1; ++blk) {
    const int32_t c0 = blk * PE_GEMM_NR;
    const int32_t nc = t->oc - c0 < PE_GEMM_NR ? t->oc - c0 : PE_GEMM_NR;
    t->uk->fn((size_t)nr, (size_t)t->kp, a, (size_t)t->kp, t->w + (size_t)blk * t->kp * PE_GEMM_NR, acc);
    for (r = 0; r < nr; ++r) {
      int16_t *c = t->out + (size_t)(r0 + r) * t->oc + c0;
      if (!t->bias32) {
        t->uk->requant64((size_t)nc, acc + r * PE_GEMM_NR, t->bias != NULL ? (const int64_t *)t->bias + c0 : NULL,
                         t->mult + c0, t->shift + c0, t->act_min, t->act_max, c);
      } else {
        for (n = 0; n < nc; ++n)
          c[n] = (int16_t)pe_conv_requant32(acc[r * PE_GEMM_NR + n],
                                            t->bias != NULL ? ((const int32_t *)t->bias)[c0 + n] : 0,
                                            t->mult[c0 + n], t->shift[c0 + n], 0, t->act_min, t->act_max);
      }
    }
  }
}

static void gemm16_run(gemm16_task *t) {
  const int32_t mr = (int32_t)t->uk->mr;
  const int32_t tiles = (t->rows + mr - 1) / mr;
  const uint32_t threads = pe_op_threads(t->ctx);
  const int32_t ocp = (int32_t)round_up16((uint32_t)t->oc, PE_GEMM_NR);
  const uint8_t *packed = (const uint8_t *)pe_input(t->ctx, 1).data;
  t->kp = (int32_t)round_up16((uint32_t)t->k, PE_GEMM_KR);
  t->panel_bytes = pe_gemm16_scratch_bytes(t->k, t->rows, 1);
  t->w = (const int8_t *)(packed + 16u * (uint32_t)ocp);
  t->nblocks = ocp / PE_GEMM_NR;
  t->bchunks = 1;
  if (threads > 1 && (uint32_t)tiles < 4u * threads) {
    int32_t want = (int32_t)(4u * threads) / (tiles > 0 ? tiles : 1);
    t->bchunks = want < t->nblocks ? want : t->nblocks;
    if (t->bchunks < 1) t->bchunks = 1;
  }
  t->bchunk = (t->nblocks + t->bchunks - 1) / t->bchunks;
  t->bchunks = (t->nblocks + t->bchunk - 1) / t->bchunk;
  if (tiles > 0) pe_parallel(t->ctx, gemm16_item, t, (uint32_t)(tiles * t->bchunks));
}

static void gemm16_common(gemm16_task *t, const pe_op_ctx *ctx, int32_t act_min, int32_t act_max) {
  const pe_tensor in = pe_input(ctx, 0), bias = pe_input(ctx, 2);
  t->ctx = ctx;
  t->uk = (const pe_qs16_gemm_ukernel *)ctx->variant->ukernel;
  t->x = (const int16_t *)in.data;
  t->bias = bias.index >= 0 ? bias.data : NULL;
  t->mult = (const int32_t *)pe_input(ctx, 3).data;
  t->shift = (const int32_t *)pe_input(ctx, 4).data;
  t->out = (int16_t *)pe_output(ctx, 0).data;
  t->act_min = act_min;
  t->act_max = act_max;
}

pe_status pe_conv_2d__gemm16(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0), bias = pe_input(ctx, 2);
  gemm16_task t;
  memset(&t, 0, sizeof t);
  gemm16_common(&t, ctx, p->act_min, p->act_max);
  /* CONV_2D: int32 bias -> wrapped int32 accumulator; int64 bias or none -> int64 */
  t.bias32 = bias.index >= 0 && bias.dtype == PE_INT32;
  t.in_h = in.dims[1];
  t.in_w = in.dims[2];
  t.in_c = in.dims[3];
  t.out_h = out.dims[1];
  t.out_w = out.dims[2];
  t.oc = out.dims[3];
  t.kh = p->kernel_h;
  t.kw = p->kernel_w;
  t.sh = p->stride_h;
  t.sw = p->stride_w;
  t.dh = p->dilation_h;
  t.dw = p->dilation_w;
  t.ph = p->pad_h;
  t.pw = p->pad_w;
  t.rows = out.dims[0] * t.out_h * t.out_w;
  t.k = t.kh * t.kw * t.in_c;
  t.conv = 1;
  t.direct = t.kh == 1 && t.kw == 1 && t.sh == 1 && t.sw == 1 && t.ph == 0 && t.pw == 0 && t.in_h == t.out_h &&
             t.in_w == t.out_w;
  gemm16_run(&t);
  return PE_OK;
}

pe_status pe_fully_connected__gemm16(const pe_op_ctx *ctx) {
  const pe_fc_params *p = (const pe_fc_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0), bias = pe_input(ctx, 2);
  gemm16_task t;
  memset(&t, 0, sizeof t);
  gemm16_common(&t, ctx, p->act_min, p->act_max);
  /* FULLY_CONNECTED: only an int64 bias takes the int64 accumulator (none: int32, bias 0) */
  t.bias32 = !(bias.index >= 0 && bias.dtype == PE_INT64);
  t.k = p->depth;
  t.oc = out.dims[out.rank - 1];
  t.rows = (int32_t)(pe_conv_elems(&in) / p->depth);
  gemm16_run(&t);
  return PE_OK;
}
