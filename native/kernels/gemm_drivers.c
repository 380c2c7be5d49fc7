/* Drivers for the packed int8 GEMM layout (CONV_2D, FULLY_CONNECTED) and the depthwise row
 * kernels: they tile the op, fill the activation panel and call the microkernel of the variant
 * the runtime chose (ctx->variant). No ISA code here.
 *
 * uint8 CONV_2D / DEPTHWISE_CONV_2D (one input channel) / FULLY_CONNECTED run on the same int8
 * microkernels, exactly. With x the uint8 input (zero point zx), v the uint8 weights (zero point
 * zw), W = v - 128 (int8, what the layout holds) and the panel a = x (the uint8 bytes as they are;
 * a tap in the zero padding gets zx), for every term
 *   (x - zx) * (v - zw) = (a - zx) * (W + 128 - zw) = a * W - zx * W + (128 - zw) * (a - zx),
 * so over the K taps of output pixel r and channel n
 *   acc = bias[n] + sum_k a * W  - zx * wsum[n] - (128 - zw) * K * zx  + (128 - zw) * T[r],
 * T[r] = sum_k a[r][k]. The microkernel's sum_k a * W plus its init term (packed with input offset
 * 128 - zx and bias[n] - (128 - zw) * K * zx: pyedge/layouts.py) gives all but the last term,
 * which is the same for every channel of row r: the driver sums the panel row (K adds per pixel,
 * against K * OC multiply-adds) and passes (128 - zw) * T[r] as the row's rowadd. All of it mod
 * 2^32, as TFLite's int32 accumulator. Output: the microkernel stores int8 with output zero point
 * zy - 128 and clamp [lo - 128, hi - 128], i.e. y - 128; the driver flips the tile's bytes back
 * (y = (y - 128) ^ 0x80). With zw = 128 the row term is 0 and the driver skips the sums. */
#include <string.h>

#include "conv.h"
#include "gemm_drivers.h"
#include "qs4_gemm.h"

const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_1x16c4__scalar = {pe_qs8_gemm_1x16c4__scalar, 1,
                                                           "gemm_1x16c4__scalar", NULL, NULL};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__scalar = {pe_qs8_dw_row__scalar};
#if PE_X86_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__avx2 = {pe_qs8_gemm_4x16c4__avx2, 4, "gemm_4x16c4__avx2",
                                                         pe_qs8_gemm_1x16c4__avx2, pe_qs8_flip__avx2};
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_8x16c4__avx512vnni = {pe_qs8_gemm_8x16c4__avx512vnni, 8,
                                                               "gemm_8x16c4__avx512vnni",
                                                               pe_qs8_gemm_1x16c4__avx512vnni, pe_qs8_flip__avx512};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx2 = {pe_qs8_dw_row__avx2};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx512 = {pe_qs8_dw_row__avx512};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__avx512vnni = {pe_qs8_dw_row__avx512vnni};
#endif
#if PE_NEON_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_neon = {pe_qs8_gemm_neon, PE_GEMM_NEON_MR, PE_GEMM_NEON_NAME, NULL, NULL};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__neon = {pe_qs8_dw_row__neon};
#endif
#if PE_MVE_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__mve = {pe_qs8_gemm_4x16c4__mve, 4, "gemm_4x16c4__mve", NULL, NULL};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__mve = {pe_qs8_dw_row__mve};
#endif
#if PE_DSP_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_8x16c4__dsp = {pe_qs8_gemm_8x16c4__dsp, 8, "gemm_8x16c4__dsp",
                                                        pe_qs8_gemm_1x16c4__dsp, NULL};
const pe_qs8_dw_ukernel pe_uk_qs8_dw_row__dsp = {pe_qs8_dw_row__dsp};
#endif
#if PE_ARM64_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__neondot = {pe_qs8_gemm_4x16c4__neondot, 4,
                                                            "gemm_4x16c4__neondot", NULL, NULL};
const pe_qs8_gemm_ukernel pe_uk_qs8_gemm_4x16c4__neoni8mm = {pe_qs8_gemm_4x16c4__neoni8mm, 4,
                                                             "gemm_4x16c4__neoni8mm", NULL, NULL};
#endif

/* int4 weights (PE_LAYOUT_QS4_GEMM_N16K8, qs4_gemm.h): the same drivers, another block size */
const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_1x16c8__scalar = {pe_qs4_gemm_1x16c8__scalar, 1, "gemm4_1x16c8__scalar",
                                                           NULL, NULL};
#if PE_X86_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_4x16c8__avx2 = {pe_qs4_gemm_4x16c8__avx2, 4, "gemm4_4x16c8__avx2",
                                                         pe_qs4_gemm_1x16c8__avx2, pe_qs8_flip__avx2};
const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_8x16c8__avx512vnni = {pe_qs4_gemm_8x16c8__avx512vnni, 8,
                                                               "gemm4_8x16c8__avx512vnni",
                                                               pe_qs4_gemm_1x16c8__avx512vnni, pe_qs8_flip__avx512};
#endif
#if PE_ARM64_KERNELS
const pe_qs8_gemm_ukernel pe_uk_qs4_gemm_2x16c8__neon = {pe_qs4_gemm_2x16c8__neon, 2, "gemm4_2x16c8__neon", NULL, NULL};
#endif

static uint32_t round_up(uint32_t x, uint32_t m) { return (x + m - 1u) / m * m; }

/* Short runs of the flip copy (im2col filter rows of few channels): inline where speed pays (the
   SIMD targets), one out-of-line copy of the code on microcontrollers, which count bytes. */
#if PE_X86_KERNELS || PE_NEON_KERNELS
#define flip_short pe_qs8_flip_inline
#else
#define flip_short pe_qs8_flip__scalar
#endif

uint32_t pe_gemm_scratch_bytes(int32_t k, int32_t rows, uint32_t threads) {
  if (k < 1 || rows < 1) return 0;
  return round_up((uint32_t)(rows < PE_GEMM_MR_MAX ? rows : PE_GEMM_MR_MAX) * round_up((uint32_t)k, PE_GEMM_KR), 16u) *
         (threads ? threads : 1u);
}

pe_status pe_gemm_scratch_check(const pe_op_ctx *ctx, int32_t k, int32_t rows) {
  PE_CHECK(k >= 1 && k <= (1 << 24) && rows >= 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->scratch_size >= pe_gemm_scratch_bytes(k, rows, pe_model_max_threads(ctx->m)), PE_ERR_CORRUPT);
  return PE_OK;
}

/* Panel bytes of one thread. */
static uint32_t panel_bytes(int32_t k, int32_t rows) { return pe_gemm_scratch_bytes(k, rows, 1); }

/* The packed tensor of an op with oc outputs and k inputs: exact size, and multipliers and shifts
   equal to the op's own (inputs 3 and 4, validated by the caller), zeros past oc. */
pe_status pe_gemm_packed_check(const pe_tensor *packed, const pe_tensor *mult, const pe_tensor *shift,
                               int32_t oc, int32_t k) {
  return pe_gemm_layout_check(packed, mult, shift, oc, k, PE_LAYOUT_QS8_GEMM_N16K4);
}

pe_status pe_gemm_layout_check(const pe_tensor *packed, const pe_tensor *mult, const pe_tensor *shift,
                               int32_t oc, int32_t k, uint32_t layout) {
  const int32_t *pm, *ps, *m = (const int32_t *)mult->data, *s = (const int32_t *)shift->data;
  int32_t ocp, i;
  PE_CHECK(oc >= 1 && k >= 1 && oc <= (1 << 24) && k <= (1 << 24), PE_ERR_SHAPE);
  PE_CHECK(packed->dtype == PE_INT8 && packed->rank == 1, PE_ERR_SHAPE);
  PE_CHECK((uint64_t)round_up((uint32_t)oc, 16) * round_up((uint32_t)k, 4) + 16ull * round_up((uint32_t)oc, 16) <
               0x7FFFFFFFull,
           PE_ERR_SHAPE);
  PE_CHECK(layout == PE_LAYOUT_QS8_GEMM_N16K4 || layout == PE_LAYOUT_QS4_GEMM_N16K8, PE_ERR_LAYOUT);
  PE_CHECK(packed->bytes == (layout == PE_LAYOUT_QS4_GEMM_N16K8 ? pe_qs4_gemm_packed_bytes(oc, k)
                                                                : pe_qs8_gemm_packed_bytes(oc, k)),
           PE_ERR_SHAPE);
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
  uint8_t flip;               /* panel byte = input byte ^ flip: 0x80 (int8), 0 (uint8) */
  pe_qs8_flip_fn flipfn;      /* the copy that applies it: the microkernel's, or the scalar twin */
  int u8;                     /* uint8 op: output bytes flipped back after each tile */
  int32_t row_term;           /* uint8: 128 - filter zero point (rowadd = row_term * T[r]) */
  size_t panel_bytes;         /* one thread's panel */
  int w4;                     /* int4 weights (qs4_gemm.h) */
  size_t wblock;              /* weight bytes of one 16-channel block */
  /* conv geometry (conv only) */
  int conv, direct;
  int32_t in_h, in_w, in_c, out_h, out_w, kh, kw, sh, sw, dh, dw, ph, pw;
} gemm_task;

/* sum of n bytes, eight at a time: four 16-bit lanes, each taking at most 2 * 255 per word, for
   up to 128 words before they are folded */
static uint32_t byte_sum(const uint8_t *p, int32_t n) {
  const uint64_t lo = 0x00FF00FF00FF00FFull;
  uint32_t total = 0;
  int32_t i = 0;
  while (i + 8 <= n) {
    const int32_t end = n - i > 8 * 128 ? i + 8 * 128 : n;
    uint64_t acc = 0;
    for (; i + 8 <= end; i += 8) {
      uint64_t v;
      memcpy(&v, p + i, 8);
      acc += (v & lo) + ((v >> 8) & lo);
    }
    total += (uint32_t)(acc & 0xFFFFu) + (uint32_t)((acc >> 16) & 0xFFFFu) + (uint32_t)((acc >> 32) & 0xFFFFu) +
             (uint32_t)(acc >> 48);
  }
  for (; i < n; ++i) total += p[i];
  return total;
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
      if (run < 32)
        flip_short(o, src, (size_t)run, t->flip);
      else
        t->flipfn(o, src, (size_t)run, t->flip);
      o += run;
      continue;
    }
    for (fx = 0; fx < t->kw; ++fx, o += t->in_c) {
      const int32_t ix = x0 + fx * t->dw;
      if (ix < 0 || ix >= t->in_w)
        memset(o, t->pad_byte, (size_t)t->in_c);
      else if (t->in_c < 32)
        flip_short(o, xrow + (size_t)ix * t->in_c, (size_t)t->in_c, t->flip);
      else
        t->flipfn(o, xrow + (size_t)ix * t->in_c, (size_t)t->in_c, t->flip);
    }
  }
  for (i = t->k; i < t->kp; ++i) row[i] = 0x80u; /* against zero weights */
}

/* Rows r0 .. r0 + nr of the panel: im2col rows of output pixels (conv) or input rows (FC, 1x1
   convs that read the input directly), as x ^ 0x80, padded to kp against zero weights. */
static void fill_panel(const gemm_task *t, int32_t r0, int32_t nr, uint8_t *panel) {
  int32_t r, i;
  if ((!t->conv || t->direct) && t->kp == t->k) { /* the tile's rows are one run of the input */
    t->flipfn(panel, t->x + (size_t)r0 * t->k, (size_t)nr * (size_t)t->k, t->flip);
  } else if (!t->conv || t->direct) {
    for (r = 0; r < nr; ++r) {
      uint8_t *row = panel + (size_t)r * t->kp;
      t->flipfn(row, t->x + (size_t)(r0 + r) * t->k, (size_t)t->k, t->flip);
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
  int32_t blk, r;
  const pe_qs8_gemm_fn fn = nr == 1 && t->uk->fn1 != NULL ? t->uk->fn1 : t->uk->fn;
  int32_t rowadd[PE_GEMM_MR_MAX];
  fill_panel(t, r0, nr, panel);
  if (t->row_term != 0)
    for (r = 0; r < nr; ++r) {
      rowadd[r] = (int32_t)(byte_sum(panel + (size_t)r * t->kp, t->k) * (uint32_t)t->row_term);
    }
  for (blk = b0; blk < b1; ++blk) {
    const int32_t c0 = blk * PE_GEMM_NR;
    const int32_t nc = t->oc - c0 < PE_GEMM_NR ? t->oc - c0 : PE_GEMM_NR;
    fn((size_t)nr, (size_t)nc, (size_t)t->kp, panel, (size_t)t->kp, w + (size_t)blk * t->wblock,
              init + c0, mult + c0, shift + c0, t->output_offset, t->act_min, t->act_max,
              t->out + (size_t)r0 * t->oc + c0, (size_t)t->oc, t->row_term != 0 ? rowadd : NULL);
    if (t->u8)
      for (r = 0; r < nr; ++r) {
        uint8_t *c = (uint8_t *)t->out + (size_t)(r0 + r) * t->oc + c0;
        flip_short(c, (const int8_t *)c, (size_t)nc, 0x80u);
      }
  }
}

static void gemm_run(gemm_task *t) {
  const int32_t mr = (int32_t)t->uk->mr;
  const int32_t tiles = (t->rows + mr - 1) / mr;
  const uint32_t threads = pe_op_threads(t->ctx);
  t->flipfn = t->uk->flip != NULL ? t->uk->flip : pe_qs8_flip__scalar;
  t->kp = (int32_t)round_up((uint32_t)t->k, PE_GEMM_KR);
  t->panel_bytes = panel_bytes(t->k, t->rows);
  t->wblock = t->w4 ? pe_qs4_gemm_block_bytes((size_t)t->kp) : (size_t)t->kp * PE_GEMM_NR;
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

static pe_status conv_gemm(const pe_op_ctx *ctx, int w4) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  /* int8/uint8 only: firmware built without the 16x8 rows (PE_INT16_KERNELS 0) refuses an
     int16 op here rather than computing it as int8 */
  PE_CHECK(in.dtype == PE_INT8 || in.dtype == PE_UINT8, PE_ERR_UNSUPPORTED_OP);
  gemm_task t;
  memset(&t, 0, sizeof(t));
  t.w4 = w4;
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
  t.flip = 0x80u;
  if (in.dtype == PE_UINT8) {
    t.flip = 0;
    t.u8 = 1;
    t.row_term = 128 - pe_input(ctx, 1).zero_point;
    t.output_offset -= 128;
    t.act_min -= 128;
    t.act_max -= 128;
  }
  t.pad_byte = (uint8_t)(((uint32_t)(-p->input_offset) & 0xFFu) ^ t.flip);
  gemm_run(&t);
  return PE_OK;
}

pe_status pe_conv_2d__gemm(const pe_op_ctx *ctx) { return conv_gemm(ctx, 0); }
pe_status pe_conv_2d__gemm4(const pe_op_ctx *ctx) { return conv_gemm(ctx, 1); }

static pe_status fc_gemm(const pe_op_ctx *ctx, int w4) {
  const pe_fc_params *p = (const pe_fc_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  /* int8/uint8 only: firmware built without the 16x8 rows (PE_INT16_KERNELS 0) refuses an
     int16 op here rather than computing it as int8 */
  PE_CHECK(in.dtype == PE_INT8 || in.dtype == PE_UINT8, PE_ERR_UNSUPPORTED_OP);
  gemm_task t;
  memset(&t, 0, sizeof(t));
  t.w4 = w4;
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
  t.flip = 0x80u;
  if (in.dtype == PE_UINT8) {
    t.flip = 0;
    t.u8 = 1;
    t.row_term = 128 + p->filter_offset;
    t.output_offset -= 128;
    t.act_min -= 128;
    t.act_max -= 128;
  }
  gemm_run(&t);
  return PE_OK;
}

pe_status pe_fully_connected__gemm(const pe_op_ctx *ctx) { return fc_gemm(ctx, 0); }
pe_status pe_fully_connected__gemm4(const pe_op_ctx *ctx) { return fc_gemm(ctx, 1); }

/* ---------------------------------------------------------------- depthwise rows */

typedef struct {
  const pe_op_ctx *ctx;
  pe_qs8_dw_fn fn;
  pe_qs8_dw_args a;
  const int8_t *input;
  int8_t *out;
  int32_t out_h, out_w, batch_in, batch_out;
  int u8; /* uint8: output rows flipped back after the kernel */
} dw_task;

static void dw_item(void *task, uint32_t item, uint32_t thread) {
  const dw_task *t = (const dw_task *)task;
  const int32_t b = (int32_t)item / t->out_h, oy = (int32_t)item % t->out_h;
  pe_qs8_dw_args a = t->a;
  (void)thread;
  a.input = t->input + (size_t)b * t->batch_in;
  t->fn(&a, oy, 0, t->out_w, t->out + (size_t)b * t->batch_out + (size_t)oy * t->out_w * a.channels);
  if (t->u8) {
    uint8_t *row = (uint8_t *)t->out + (size_t)b * t->batch_out + (size_t)oy * t->out_w * a.channels;
    pe_qs8_flip__scalar(row, (const int8_t *)row, (size_t)t->out_w * (size_t)a.channels, 0x80u);
  }
}

/* The row kernels: int8 or uint8 input, depth multiplier 1, an int32 bias or none. The op's check
   (conv_scalar.c) has validated the rest at load: output and filter [1, KH, KW, C] of the input's
   type, bias, multipliers and shifts of C entries each (C = the input's channels = the output's,
   with multiplier 1), shifts in [-31, 30], multipliers >= 0, offsets in range (int8: input in
   [-127, 128]; uint8: zero points in [0, 255]). uint8 needs scratch for its flipped input.
   int16 activations and depth multipliers > 1 run the scalar reference.

   uint8 on the int8 row kernels, exactly: the input x (zero point zx) flipped to x' = x ^ 0x80
   = x - 128 with input offset 128 - zx (x' + 128 - zx = x - zx), the uint8 filter taken as
   w - zw (filter_u8), the output stored as int8 with zero point zy - 128 and clamp - 128, then
   flipped back (y = (y - 128) ^ 0x80). */
int pe_depthwise_conv_2d__rows_accepts(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), bias = pe_input(ctx, 2);
  if (p->depth_multiplier != 1 || !(bias.index < 0 || bias.dtype == PE_INT32)) return 0;
  return in.dtype == PE_INT8 || (in.dtype == PE_UINT8 && ctx->scratch_size >= in.bytes);
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
  if (in.dtype == PE_UINT8) {
    uint8_t *flipped = (uint8_t *)ctx->scratch;
    pe_qs8_flip__scalar(flipped, (const int8_t *)in.data, (size_t)in.bytes, 0x80u);
    t.input = (const int8_t *)flipped;
    t.u8 = 1;
    t.a.filter_u8 = 1;
    t.a.filter_zp = pe_input(ctx, 1).zero_point;
    t.a.input_offset += 128;
    t.a.output_offset -= 128;
    t.a.act_min -= 128;
    t.a.act_max -= 128;
  }
  t.out_h = out.dims[1];
  t.out_w = out.dims[2];
  /* A column ([N, H, 1, C] through a KH x 1 filter: the temporal convs of audio models) is the
     same bytes as a row [N, 1, H, C] through a 1 x KH filter (the filter [1, KH, 1, C] is
     [1, 1, KH, C]): one kernel call for the H outputs instead of one per output pixel, each
     paying the kernel's per-row set-up. */
  if (t.a.in_w == 1 && t.out_w == 1 && t.a.kw == 1 && t.a.pad_w == 0 && t.out_h > 1) {
    t.a.in_w = t.a.in_h;
    t.a.in_h = 1;
    t.a.kw = t.a.kh;
    t.a.kh = 1;
    t.a.stride_w = t.a.stride_h;
    t.a.stride_h = 1;
    t.a.dilation_w = t.a.dilation_h;
    t.a.dilation_h = 1;
    t.a.pad_w = t.a.pad_h;
    t.a.pad_h = 0;
    t.out_w = t.out_h;
    t.out_h = 1;
  }
  t.batch_in = t.a.in_h * t.a.in_w * t.a.channels;
  t.batch_out = t.out_h * t.out_w * t.a.channels;
  if (out.dims[0] * t.out_h > 0 && t.out_w > 0)
    pe_parallel(ctx, dw_item, &t, (uint32_t)(out.dims[0] * t.out_h));
  return PE_OK;
}
