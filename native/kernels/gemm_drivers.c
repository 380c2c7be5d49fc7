/* Drivers for the packed int8 GEMM layout (CONV_2D, FULLY_CONNECTED) and the depthwise row
 * kernels: they tile the op, fill the activation panel and call the microkernel of the variant
 * the runtime chose (ctx->variant). No ISA code here. */
#include <string.h>

#include "conv.h"
#include "gemm_drivers.h"

const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_1x16c4__scalar = {pe_qs8_gemm_1x16c4__scalar, 1,
                                                           "gemm_1x16c4__scalar", NULL};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__scalar = {pe_qs8_dw_row__scalar};
#if PE_X86_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__avx2 = {pe_qs8_gemm_4x16c4__avx2, 4, "gemm_4x16c4__avx2",
                                                         pe_qs8_gemm_1x16c4__avx2};
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_8x16c4__avx512vnni = {pe_qs8_gemm_8x16c4__avx512vnni, 8,
                                                               "gemm_8x16c4__avx512vnni",
                                                               pe_qs8_gemm_1x16c4__avx512vnni};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx2 = {pe_qs8_dw_row__avx2};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx512 = {pe_qs8_dw_row__avx512};
#endif
#if PE_NEON_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_neon = {pe_qs8_gemm_neon, PE_GEMM_NEON_MR, PE_GEMM_NEON_NAME, NULL};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__neon = {pe_qs8_dw_row__neon};
#endif
#if PE_MVE_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__mve = {pe_qs8_gemm_4x16c4__mve, 4, "gemm_4x16c4__mve", NULL};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__mve = {pe_qs8_dw_row__mve};
#endif
#if PE_DSP_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_2x16c4__dsp = {pe_qs8_gemm_2x16c4__dsp, 2, "gemm_2x16c4__dsp",
                                                        pe_qs8_gemm_1x16c4__dsp};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__dsp = {pe_qs8_dw_row__dsp};
#endif
#if PE_ARM64_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__neondot = {pe_qs8_gemm_4x16c4__neondot, 4,
                                                            "gemm_4x16c4__neondot", NULL};
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__neoni8mm = {pe_qs8_gemm_4x16c4__neoni8mm, 4,
                                                             "gemm_4x16c4__neoni8mm", NULL};
#endif

static uint32_t round_up(uint32_t x, uint32_t m) { return (x + m - 1u) / m * m; }

uint32_t pe_gemm_scratch_bytes(int32_t k, uint32_t threads) {
  if (k < 1) return 0;
  return round_up(PE_GEMM_MR_MAX * round_up((uint32_t)k, PE_GEMM_KR), 16u) * (threads ? threads : 1u);
}

pe_status pe_gemm_scratch_check(const pe_op_ctx *ctx, int32_t k) {
  PE_CHECK(k >= 1 && k <= (1 << 24), PE_ERR_SHAPE);
  PE_CHECK(ctx->scratch_size >= pe_gemm_scratch_bytes(k, pe_model_max_threads(ctx->m)), PE_ERR_CORRUPT);
  return PE_OK;
}

/* Panel bytes of one thread. */
static uint32_t panel_bytes(int32_t k) { return pe_gemm_scratch_bytes(k, 1); }

/* The packed tensor of an op with oc outputs and k inputs: exact size, and multipliers and shifts
   equal to the op's own (inputs 3 and 4, validated by the caller), zeros past oc. */
pe_status pe_gemm_packed_check(const pe_tensor *packed, const pe_tensor *mult, const pe_tensor *shift,
                               int32_t oc, int32_t k) {
  const int32_t *pm, *ps, *m = (const int32_t *)mult->data, *s = (const int32_t *)shift->data;
  int32_t ocp, i;
  PE_CHECK(oc >= 1 && k >= 1 && oc <= (1 << 24) && k <= (1 << 24), PE_ERR_SHAPE);
  PE_CHECK(packed->dtype == PE_INT8 && packed->rank == 1, PE_ERR_SHAPE);
  PE_CHECK((uint64_t)round_up((uint32_t)oc, 16) * round_up((uint32_t)k, 4) + 16ull * round_up((uint32_t)oc, 16) <
               0x7FFFFFFFull,
           PE_ERR_SHAPE);
  PE_CHECK(packed->bytes == pe_qs8_gemm_packed_bytes(oc, k), PE_ERR_SHAPE);
  PE_CHECK(packed->data != NULL && ((uintptr_t)packed->data) % 16u == 0, PE_ERR_BAD_PARAMS);
  ocp = (int32_t)round_up((uint32_t)oc, 16);
  pm = (const int32_t *)packed->data + 2 * ocp;
  ps = pm + ocp;
  for (i = 0; i < ocp; ++i) {
    PE_CHECK(i < oc ? pm[i] == m[i] && ps[i] == s[i] : pm[i] == 0 && ps[i] == 0, PE_ERR_BAD_PARAMS);
  }
  return PE_OK;
}

/* ---------------------------------------------------------------- GEMM over a panel */

typedef struct {
  const pe_op_ctx *ctx;
  const pe_qs8_gemm_ukernel *uk;
  /* rows: pixels (conv) or batch rows (FC) */
  int32_t rows, oc, k, kp, nblocks, bchunks, bchunk;
  const int8_t *x;            /* input */
  const uint8_t *packed;      /* init | wsum | mult | shift | weights */
  int8_t *out;
  int32_t output_offset, act_min, act_max;
  uint8_t pad_byte;           /* panel value of a tap in the zero padding: zero point ^ 0x80 */
  size_t panel_bytes;         /* one thread's panel */
  /* conv geometry (conv only) */
  int conv, direct;
  int32_t in_h, in_w, in_c, out_h, out_w, kh, kw, sh, sw, dh, dw, ph, pw;
} gemm_task;

/* dst[i] = src[i] ^ 0x80 (int8 -> the panel's uint8), eight bytes at a time. */
static inline void xor_copy(uint8_t *dst, const int8_t *src, int32_t n) {
  const uint64_t flip = 0x8080808080808080ull;
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= flip;
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; ++i) dst[i] = (uint8_t)((uint8_t)src[i] ^ 0x80u);
}

/* The im2col row of output pixel (b, oy, ox) of a convolution, as x ^ 0x80; taps in the zero
   padding get the input zero point's byte. */
static void fill_conv_row(const gemm_task *t, int32_t b, int32_t oy, int32_t ox, uint8_t *row) {
  const int32_t y0 = oy * t->sh - t->ph, x0 = ox * t->sw - t->pw;
  const int32_t run = t->kw * t->in_c;
  const int inside_x = t->dw == 1 && x0 >= 0 && x0 + t->kw <= t->in_w;
  int32_t fy, fx, i;
  uint8_t *o = row;
  for (fy = 0; fy < t->kh; ++fy) {
    const int32_t iy = y0 + fy * t->dh;
    const int8_t *xrow;
    if (iy < 0 || iy >= t->in_h) {
      memset(o, t->pad_byte, (size_t)run);
      o += run;
      continue;
    }
    xrow = t->x + ((size_t)b * t->in_h + iy) * t->in_w * t->in_c;
    if (inside_x) { /* the filter row's taps are one contiguous run of the input */
      const int8_t *src = xrow + (size_t)x0 * t->in_c;
      if (run < 8) {
        for (i = 0; i < run; ++i) o[i] = (uint8_t)((uint8_t)src[i] ^ 0x80u);
      } else {
        xor_copy(o, src, run);
      }
      o += run;
      continue;
    }
    for (fx = 0; fx < t->kw; ++fx, o += t->in_c) {
      const int32_t ix = x0 + fx * t->dw;
      if (ix < 0 || ix >= t->in_w) {
        for (i = 0; i < t->in_c; ++i) o[i] = t->pad_byte;
      } else {
        const int8_t *src = xrow + (size_t)ix * t->in_c;
        for (i = 0; i < t->in_c; ++i) o[i] = (uint8_t)((uint8_t)src[i] ^ 0x80u);
      }
    }
  }
  for (i = t->k; i < t->kp; ++i) row[i] = 0x80u; /* against zero weights */
}

/* Rows r0 .. r0 + nr of the panel: im2col rows of output pixels (conv) or input rows (FC, 1x1
   convs that read the input directly), as x ^ 0x80, padded to kp against zero weights. */
static void fill_panel(const gemm_task *t, int32_t r0, int32_t nr, uint8_t *panel) {
  int32_t r, i;
  if (!t->conv || t->direct) {
    for (r = 0; r < nr; ++r) {
      uint8_t *row = panel + (size_t)r * t->kp;
      xor_copy(row, t->x + (size_t)(r0 + r) * t->k, t->k);
      for (i = t->k; i < t->kp; ++i) row[i] = 0x80u;
    }
  } else {
    /* one division per tile; the pixel coordinates then advance row by row */
    int32_t ox = r0 % t->out_w, q = r0 / t->out_w, oy = q % t->out_h, b = q / t->out_h;
    for (r = 0; r < nr; ++r) {
      fill_conv_row(t, b, oy, ox, panel + (size_t)r * t->kp);
      if (++ox == t->out_w) {
        ox = 0;
        if (++oy == t->out_h) {
          oy = 0;
          ++b;
        }
      }
    }
  }
}

static void gemm_item(void *task, uint32_t item, uint32_t thread) {
  const gemm_task *t = (const gemm_task *)task;
  const int32_t mr = (int32_t)t->uk->mr;
  const int32_t tile = (int32_t)item / t->bchunks, chunk = (int32_t)item % t->bchunks;
  const int32_t r0 = tile * mr, nr = t->rows - r0 < mr ? t->rows - r0 : mr;
  const int32_t b0 = chunk * t->bchunk;
  const int32_t b1 = b0 + t->bchunk < t->nblocks ? b0 + t->bchunk : t->nblocks;
  const int32_t ocp = t->nblocks * PE_GEMM_NR;
  const int32_t *init = (const int32_t *)t->packed, *mult = init + 2 * ocp, *shift = mult + ocp;
  const int8_t *w = (const int8_t *)(t->packed + 16u * (uint32_t)ocp);
  uint8_t *panel = t->ctx->scratch + (size_t)thread * t->panel_bytes;
  int32_t blk;
  const pe_qs8_gemm_fn fn = nr == 1 && t->uk->fn1 != NULL ? t->uk->fn1 : t->uk->fn;
  fill_panel(t, r0, nr, panel);
  for (blk = b0; blk < b1; ++blk) {
    const int32_t c0 = blk * PE_GEMM_NR;
    const int32_t nc = t->oc - c0 < PE_GEMM_NR ? t->oc - c0 : PE_GEMM_NR;
    fn((size_t)nr, (size_t)nc, (size_t)t->kp, panel, (size_t)t->kp, w + (size_t)blk * t->kp * PE_GEMM_NR,
              init + c0, mult + c0, shift + c0, t->output_offset, t->act_min, t->act_max,
              t->out + (size_t)r0 * t->oc + c0, (size_t)t->oc);
  }
}

static void gemm_run(gemm_task *t) {
  const int32_t mr = (int32_t)t->uk->mr;
  const int32_t tiles = (t->rows + mr - 1) / mr;
  const uint32_t threads = pe_op_threads(t->ctx);
  t->kp = (int32_t)round_up((uint32_t)t->k, PE_GEMM_KR);
  t->panel_bytes = panel_bytes(t->k);
  t->nblocks = (t->oc + PE_GEMM_NR - 1) / PE_GEMM_NR;
  t->bchunks = 1;
  /* few row tiles (a single token, a small image): split the channel blocks too */
  if (threads > 1 && (uint32_t)tiles < 4u * threads) {
    int32_t want = (int32_t)(4u * threads) / (tiles > 0 ? tiles : 1);
    t->bchunks = want < t->nblocks ? want : t->nblocks;
    if (t->bchunks < 1) t->bchunks = 1;
  }
  t->bchunk = (t->nblocks + t->bchunks - 1) / t->bchunks;
  t->bchunks = (t->nblocks + t->bchunk - 1) / t->bchunk;
  if (tiles > 0) pe_parallel(t->ctx, gemm_item, t, (uint32_t)(tiles * t->bchunks));
}

pe_status pe_conv_2d__gemm(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  gemm_task t;
  memset(&t, 0, sizeof(t));
  t.ctx = ctx;
  t.uk = (const pe_qs8_gemm_ukernel *)ctx->variant->ukernel;
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
  t.direct = t.kh == 1 && t.kw == 1 && t.sh == 1 && t.sw == 1 && t.ph == 0 && t.pw == 0 &&
             t.in_h == t.out_h && t.in_w == t.out_w;
  t.x = (const int8_t *)in.data;
  t.packed = (const uint8_t *)pe_input(ctx, 1).data;
  t.out = (int8_t *)out.data;
  t.output_offset = p->output_offset;
  t.act_min = p->act_min;
  t.act_max = p->act_max;
  t.pad_byte = (uint8_t)(((uint32_t)(-p->input_offset) & 0xFFu) ^ 0x80u);
  gemm_run(&t);
  return PE_OK;
}

pe_status pe_fully_connected__gemm(const pe_op_ctx *ctx) {
  const pe_fc_params *p = (const pe_fc_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  gemm_task t;
  memset(&t, 0, sizeof(t));
  t.ctx = ctx;
  t.uk = (const pe_qs8_gemm_ukernel *)ctx->variant->ukernel;
  t.k = p->depth;
  t.oc = out.dims[out.rank - 1];
  t.rows = pe_conv_elems(&in) / p->depth;
  t.x = (const int8_t *)in.data;
  t.packed = (const uint8_t *)pe_input(ctx, 1).data;
  t.out = (int8_t *)out.data;
  t.output_offset = p->output_offset;
  t.act_min = p->act_min;
  t.act_max = p->act_max;
  gemm_run(&t);
  return PE_OK;
}

/* ---------------------------------------------------------------- depthwise rows */

typedef struct {
  const pe_op_ctx *ctx;
  pe_qs8_dw_fn fn;
  pe_qs8_dw_args a;
  const int8_t *input;
  int8_t *out;
  int32_t out_h, out_w, batch_in, batch_out;
} dw_task;

static void dw_item(void *task, uint32_t item, uint32_t thread) {
  const dw_task *t = (const dw_task *)task;
  const int32_t b = (int32_t)item / t->out_h, oy = (int32_t)item % t->out_h;
  pe_qs8_dw_args a = t->a;
  (void)thread;
  a.input = t->input + (size_t)b * t->batch_in;
  t->fn(&a, oy, 0, t->out_w, t->out + (size_t)b * t->batch_out + (size_t)oy * t->out_w * a.channels);
}

/* The row kernels: int8 input, depth multiplier 1, an int32 bias or none. The op's check
   (conv_scalar.c) has validated the rest at load: int8 output and filter [1, KH, KW, C], bias,
   multipliers and shifts of C entries each (C = the input's channels = the output's, with
   multiplier 1), shifts in [-31, 30], multipliers >= 0, int8 offsets (input in [-127, 128]).
   int16 activations and depth multipliers > 1 run the scalar reference. */
int pe_depthwise_conv_2d__rows_accepts(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), bias = pe_input(ctx, 2);
  return in.dtype == PE_INT8 && p->depth_multiplier == 1 && (bias.index < 0 || bias.dtype == PE_INT32);
}

pe_status pe_depthwise_conv_2d__rows(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  dw_task t;
  memset(&t, 0, sizeof(t));
  t.ctx = ctx;
  t.fn = ((const pe_qs8_dw_ukernel *)ctx->variant->ukernel)->fn;
  t.a.in_h = in.dims[1];
  t.a.in_w = in.dims[2];
  t.a.channels = in.dims[3];
  t.a.kh = p->kernel_h;
  t.a.kw = p->kernel_w;
  t.a.stride_h = p->stride_h;
  t.a.stride_w = p->stride_w;
  t.a.dilation_h = p->dilation_h;
  t.a.dilation_w = p->dilation_w;
  t.a.pad_h = p->pad_h;
  t.a.pad_w = p->pad_w;
  t.a.filter = (const int8_t *)pe_input(ctx, 1).data;
  t.a.bias = (const int32_t *)pe_input(ctx, 2).data;
  t.a.mult = (const int32_t *)pe_input(ctx, 3).data;
  t.a.shift = (const int32_t *)pe_input(ctx, 4).data;
  t.a.input_offset = p->input_offset;
  t.a.output_offset = p->output_offset;
  t.a.act_min = p->act_min;
  t.a.act_max = p->act_max;
  t.input = (const int8_t *)in.data;
  t.out = (int8_t *)out.data;
  t.out_h = out.dims[1];
  t.out_w = out.dims[2];
  t.batch_in = t.a.in_h * t.a.in_w * t.a.channels;
  t.batch_out = t.out_h * t.out_w * t.a.channels;
  if (out.dims[0] * t.out_h > 0 && t.out_w > 0)
    pe_parallel(ctx, dw_item, &t, (uint32_t)(out.dims[0] * t.out_h));
  return PE_OK;
}
