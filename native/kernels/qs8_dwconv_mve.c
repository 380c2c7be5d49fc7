/* Depthwise row microkernel for Cortex-M Helium (MVE, Armv8.1-M: Cortex-M55/M85)
 * (qs8_dwconv.h), bit-identical to pe_qs8_dw_row__scalar.
 *
 * Eight channels at a time: VLDRB.S16 loads a tap's 8 input bytes and 8 filter bytes widened to
 * int16, the input offset is added (x + input_offset is in [-255, 255]), VMULLB / VMULLT form
 * the exact int32 products of the even and odd channels and two int32 accumulators (channels
 * 0, 2, 4, 6 and 1, 3, 5, 7) sum them, wrapping as the scalar kernel's. The requantization is
 * TFLite's on 4 lanes (VQRDMULH, VRSHL with the ties-away fix, as the Helium GEMM), with each
 * lane's multiplier and shift gathered, and the bytes go back to their channels with a byte
 * scatter. Taps outside the input are skipped (the valid tap range is found once per pixel);
 * the last channels (fewer than 8) take the scalar arithmetic. 3x3 filters (dilation 1, any
 * stride and padding) take a path that prepares the channels' constants and weights once per row
 * and copies the three input rows into a padded strip laid out so that every tap is an immediate
 * offset; its pixel loop is inline assembly (dw3x3_row_mve). Built on M-profile cores with
 * integer MVE only (PE_MVE_KERNELS); elsewhere this file is empty. */
#include "pe_kernel.h"

#if PE_MVE_KERNELS
#include <arm_mve.h>

#include "conv.h"
#include "qs8_dwconv.h"

static inline int32x4_t requant4(int32x4_t acc, int32x4_t mult, int32x4_t shift, int32x4_t vout, int32x4_t vmin,
                                 int32x4_t vmax) {
  const int32x4_t zero = vdupq_n_s32(0);
  const int32x4_t left = vmaxq_s32(shift, zero), right = vminq_s32(shift, zero);
  int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
  x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31));
  x = vaddq_s32(vrshlq_s32(x, right), vout);
  return vminq_s32(vmaxq_s32(x, vmin), vmax);
}

static inline void tap_range(int32_t start, int32_t k, int32_t dil, int32_t size, int32_t *lo, int32_t *hi) {
  int32_t a = 0, b = k;
  while (a < b && start + a * dil < 0) ++a;
  while (b > a && start + (b - 1) * dil >= size) --b;
  *lo = a;
  *hi = b;
}

static void dw_row_mve_s8(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels, ch8 = ch & ~7;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  const size_t row_step = (size_t)p->dilation_h * p->in_w * ch, col_step = (size_t)p->dilation_w * ch;
  const size_t frow_step = (size_t)p->kw * ch;
  const int16_t off = (int16_t)p->input_offset;
  const uint32x4_t even = vidupq_n_u32(0, 2), odd = vidupq_n_u32(1, 2); /* lanes' channels */
  const int32x4_t vout = vdupq_n_s32(p->output_offset), vmin = vdupq_n_s32(p->act_min),
                  vmax = vdupq_n_s32(p->act_max);
  int32_t fy_lo, fy_hi, ox, c;
  tap_range(y0, p->kh, p->dilation_h, p->in_h, &fy_lo, &fy_hi);
  for (ox = ox0; ox < ox1; ++ox, out += ch) {
    const int32_t x0 = ox * p->stride_w - p->pad_w;
    int32_t fx_lo, fx_hi;
    const int8_t *in0, *f0;
    tap_range(x0, p->kw, p->dilation_w, p->in_w, &fx_lo, &fx_hi);
    in0 = p->input + ((size_t)(y0 + fy_lo * p->dilation_h) * p->in_w + (x0 + fx_lo * p->dilation_w)) * ch;
    f0 = p->filter + ((size_t)fy_lo * p->kw + fx_lo) * ch;
    for (c = 0; c < ch8; c += 8) {
      int32x4_t ae, ao;
      int32_t fy, fx;
      const int8_t *ir = in0 + c, *fr = f0 + c;
      if (p->bias != NULL) {
        ae = vldrwq_gather_shifted_offset_s32(p->bias + c, even);
        ao = vldrwq_gather_shifted_offset_s32(p->bias + c, odd);
      } else {
        ae = ao = vdupq_n_s32(0);
      }
      for (fy = fy_lo; fy < fy_hi; ++fy, ir += row_step, fr += frow_step) {
        const int8_t *ip = ir, *fp = fr;
        for (fx = fx_lo; fx < fx_hi; ++fx, ip += col_step, fp += ch) {
          const int16x8_t x = vaddq_n_s16(vldrbq_s16(ip), off), w = vldrbq_s16(fp);
          ae = vaddq_s32(ae, vmullbq_int_s16(x, w));
          ao = vaddq_s32(ao, vmulltq_int_s16(x, w));
        }
      }
      {
        const int32x4_t me = vldrwq_gather_shifted_offset_s32(p->mult + c, even),
                        mo = vldrwq_gather_shifted_offset_s32(p->mult + c, odd);
        const int32x4_t se = vldrwq_gather_shifted_offset_s32(p->shift + c, even),
                        so = vldrwq_gather_shifted_offset_s32(p->shift + c, odd);
        vstrbq_scatter_offset_s32(out + c, even, requant4(ae, me, se, vout, vmin, vmax));
        vstrbq_scatter_offset_s32(out + c, odd, requant4(ao, mo, so, vout, vmin, vmax));
      }
    }
    for (; c < ch; ++c) {
      uint32_t acc = 0;
      int32_t fy, fx;
      const int8_t *ir = in0 + c, *fr = f0 + c;
      for (fy = fy_lo; fy < fy_hi; ++fy, ir += row_step, fr += frow_step) {
        const int8_t *ip = ir, *fp = fr;
        for (fx = fx_lo; fx < fx_hi; ++fx, ip += col_step, fp += ch)
          acc += (uint32_t)((int32_t)*fp * ((int32_t)*ip + p->input_offset));
      }
      out[c] = (int8_t)pe_conv_requant32((int64_t)(int32_t)acc, p->bias != NULL ? p->bias[c] : 0, p->mult[c],
                                         p->shift[c], p->output_offset, p->act_min, p->act_max);
    }
  }
}
#define PE_DW_MVE_G 8          /* 8-channel groups the 3x3 path prepares at a time (64 channels) */
#define PE_DW_MVE_STRIP 3072   /* bytes of its padded input strip (stack) */
#define PE_DW_MVE_COL 24       /* strip bytes of one column of a group: 3 rows x 8 channels */

/* The 3x3 path's constants of 8 channels, even (0, 2, 4, 6) and odd (1, 3, 5, 7) lanes apart. */
typedef struct {
  int32x4_t base_e, base_o, mult_e, mult_o, left_e, left_o, right_e, right_o;
} dw_mve_consts;

/* One pixel of a group of 8 channels in inline assembly (GCC keeps the 9 weight vectors and the
   constants in Q registers across the pixel loop, spills them, and a reload from the stack costs
   two instructions). s: the pixel's first strip column, w: the 9 taps of 8 weights, k: the
   group's constants (dw_mve_consts), lh: the clamp as int16 vectors, oo: the output offset.
   q0 / q1 the even / odd accumulators, q2 the input, q3 the weights, q4 a product. The widening
   byte loads and the narrowing byte stores take low registers only (the "l" operands). */
#define PE_DW_MVE_TAP(xo, wo)          \
  "vldrb.s16 q2, [%[s], #" #xo "]\n\t" \
  "vldrb.s16 q3, [%[w], #" #wo "]\n\t" \
  "vmullb.s16 q4, q2, q3\n\t"          \
  "vadd.i32 q0, q0, q4\n\t"            \
  "vmullt.s16 q4, q2, q3\n\t"          \
  "vadd.i32 q1, q1, q4\n\t"
#define PE_DW_MVE_TAPS                                                                                       \
  "vldrw.u32 q0, [%[k], #0]\n\t"                                                                             \
  "vldrw.u32 q1, [%[k], #16]\n\t" PE_DW_MVE_TAP(0, 0) PE_DW_MVE_TAP(24, 8) PE_DW_MVE_TAP(48, 16)              \
      PE_DW_MVE_TAP(8, 24) PE_DW_MVE_TAP(32, 32) PE_DW_MVE_TAP(56, 40) PE_DW_MVE_TAP(16, 48)                 \
          PE_DW_MVE_TAP(40, 56) PE_DW_MVE_TAP(64, 64)
#define PE_DW_MVE_LEFT            \
  "vldrw.u32 q2, [%[k], #64]\n\t" \
  "vshl.s32 q0, q0, q2\n\t"       \
  "vldrw.u32 q3, [%[k], #80]\n\t" \
  "vshl.s32 q1, q1, q3\n\t"
#define PE_DW_MVE_RQ              \
  "vldrw.u32 q2, [%[k], #32]\n\t" \
  "vqrdmulh.s32 q0, q0, q2\n\t"   \
  "vldrw.u32 q3, [%[k], #48]\n\t" \
  "vqrdmulh.s32 q1, q1, q3\n\t"   \
  "vldrw.u32 q2, [%[k], #96]\n\t" \
  "vand q4, q0, q2\n\t"           \
  "vshr.s32 q4, q4, #31\n\t"      \
  "vqadd.s32 q0, q0, q4\n\t"      \
  "vrshl.s32 q0, q0, q2\n\t"      \
  "vadd.i32 q0, q0, %[oo]\n\t"    \
  "vldrw.u32 q3, [%[k], #112]\n\t" \
  "vand q4, q1, q3\n\t"           \
  "vshr.s32 q4, q4, #31\n\t"      \
  "vqadd.s32 q1, q1, q4\n\t"      \
  "vrshl.s32 q1, q1, q3\n\t"      \
  "vadd.i32 q1, q1, %[oo]\n\t"    \
  "vqmovnb.s32 q2, q0\n\t"        \
  "vqmovnt.s32 q2, q1\n\t"        \
  "vldrh.u16 q3, [%[lh], #0]\n\t" \
  "vmax.s16 q2, q2, q3\n\t"       \
  "vldrh.u16 q3, [%[lh], #16]\n\t" \
  "vmin.s16 q2, q2, q3\n\t"
#define PE_DW_MVE_ST "vstrb.16 q2, [%[o]]\n\t"
#define PE_DW_MVE_PST     \
  "vmsr p0, %[keep]\n\t"  \
  "vpst\n\t"              \
  "vstrbt.16 q2, [%[o]]\n\t"
#define PE_DW_MVE_PX(code)                                                                              \
  __asm__ volatile(code                                                                                 \
                   :                                                                                    \
                   : [s] "l"(s), [w] "l"(w), [k] "r"(k), [lh] "r"(lh), [oo] "r"(oo), [o] "l"(o),        \
                     [keep] "r"((uint32_t)keep)                                                         \
                   : "q0", "q1", "q2", "q3", "q4", "memory")

/* Two pixels (s, s2; stored at o, o2) sharing each weight and constant load: q0 / q1 and q2 / q3
   their even / odd accumulators, q4 an input or a constant, q5 the weights, q6 a product. */
#define PE_DW_MVE_TAP2(xo, wo)           \
  "vldrb.s16 q5, [%[w], #" #wo "]\n\t"   \
  "vldrb.s16 q4, [%[s], #" #xo "]\n\t"   \
  "vmullb.s16 q6, q4, q5\n\t"            \
  "vadd.i32 q0, q0, q6\n\t"              \
  "vmullt.s16 q6, q4, q5\n\t"            \
  "vadd.i32 q1, q1, q6\n\t"              \
  "vldrb.s16 q4, [%[s2], #" #xo "]\n\t"  \
  "vmullb.s16 q6, q4, q5\n\t"            \
  "vadd.i32 q2, q2, q6\n\t"              \
  "vmullt.s16 q6, q4, q5\n\t"            \
  "vadd.i32 q3, q3, q6\n\t"
#define PE_DW_MVE_TAPS2                                                                                     \
  "vldrw.u32 q0, [%[k], #0]\n\t"                                                                            \
  "vldrw.u32 q1, [%[k], #16]\n\t"                                                                           \
  "vmov q2, q0\n\t"                                                                                         \
  "vmov q3, q1\n\t" PE_DW_MVE_TAP2(0, 0) PE_DW_MVE_TAP2(24, 8) PE_DW_MVE_TAP2(48, 16) PE_DW_MVE_TAP2(8, 24) \
      PE_DW_MVE_TAP2(32, 32) PE_DW_MVE_TAP2(56, 40) PE_DW_MVE_TAP2(16, 48) PE_DW_MVE_TAP2(40, 56)           \
          PE_DW_MVE_TAP2(64, 64)
#define PE_DW_MVE_LEFT2           \
  "vldrw.u32 q4, [%[k], #64]\n\t" \
  "vshl.s32 q0, q0, q4\n\t"       \
  "vshl.s32 q2, q2, q4\n\t"       \
  "vldrw.u32 q4, [%[k], #80]\n\t" \
  "vshl.s32 q1, q1, q4\n\t"       \
  "vshl.s32 q3, q3, q4\n\t"
#define PE_DW_MVE_RIGHT2(a)     \
  "vand q5, " a ", q4\n\t"      \
  "vshr.s32 q5, q5, #31\n\t"    \
  "vqadd.s32 " a ", " a ", q5\n\t" \
  "vrshl.s32 " a ", " a ", q4\n\t" \
  "vadd.i32 " a ", " a ", %[oo]\n\t"
#define PE_DW_MVE_RQ2                                                   \
  "vldrw.u32 q4, [%[k], #32]\n\t"                                       \
  "vqrdmulh.s32 q0, q0, q4\n\t"                                         \
  "vqrdmulh.s32 q2, q2, q4\n\t"                                         \
  "vldrw.u32 q4, [%[k], #48]\n\t"                                       \
  "vqrdmulh.s32 q1, q1, q4\n\t"                                         \
  "vqrdmulh.s32 q3, q3, q4\n\t"                                         \
  "vldrw.u32 q4, [%[k], #96]\n\t" PE_DW_MVE_RIGHT2("q0") PE_DW_MVE_RIGHT2("q2") \
  "vldrw.u32 q4, [%[k], #112]\n\t" PE_DW_MVE_RIGHT2("q1") PE_DW_MVE_RIGHT2("q3") \
  "vqmovnb.s32 q5, q0\n\t"                                              \
  "vqmovnt.s32 q5, q1\n\t"                                              \
  "vqmovnb.s32 q6, q2\n\t"                                              \
  "vqmovnt.s32 q6, q3\n\t"                                              \
  "vldrh.u16 q4, [%[lh], #0]\n\t"                                       \
  "vmax.s16 q5, q5, q4\n\t"                                             \
  "vmax.s16 q6, q6, q4\n\t"                                             \
  "vldrh.u16 q4, [%[lh], #16]\n\t"                                      \
  "vmin.s16 q5, q5, q4\n\t"                                             \
  "vmin.s16 q6, q6, q4\n\t"
#define PE_DW_MVE_ST2      \
  "vstrb.16 q5, [%[o]]\n\t" \
  "vstrb.16 q6, [%[o2]]\n\t"
#define PE_DW_MVE_PST2      \
  "vmsr p0, %[keep]\n\t"    \
  "vpst\n\t"                \
  "vstrbt.16 q5, [%[o]]\n\t" \
  "vpst\n\t"                \
  "vstrbt.16 q6, [%[o2]]\n\t"
#define PE_DW_MVE_PX2(code)                                                                                   \
  __asm__ volatile(code                                                                                       \
                   :                                                                                          \
                   : [s] "l"(s), [s2] "l"(s + adv), [w] "l"(w), [k] "r"(k), [lh] "r"(lh), [oo] "r"(oo),        \
                     [o] "l"(o), [o2] "l"(o + ostep), [keep] "r"((uint32_t)keep)                              \
                   : "q0", "q1", "q2", "q3", "q4", "q5", "q6", "memory")

/* n output pixels of one group of 8 channels. s: the group's strip, column after column, a
   column its 3 rows of 8 bytes (PE_DW_MVE_COL), so every tap is an immediate offset; pixel j
   starts at column j * sw. w: the group's 9 taps of 8 weights (tap t at t * 8). base = bias +
   input_offset * the weight sum, so a tap needs no offset: a widening load of the input, one of
   the weights, VMULLB / VMULLT and two adds for 8 MACs. The requantization is TFLite's on the
   even and odd lanes (VQRDMULH, VRSHL with the ties-away fix, the output offset added in int32
   as the scalar kernel wraps it), then both saturated to int16 into one vector (VQMOVNB/T:
   channel order again), clamped there (the clamp lies inside int8, so saturating first changes
   nothing) and stored with one narrowing store (under the predicate keep unless full). left: a
   lane may shift left. */
static inline __attribute__((always_inline)) void dw3x3_group_mve(const int8_t *s, int32_t sw, const int8_t *w,
                                                                   const dw_mve_consts *k, int32_t n, size_t ostep,
                                                                   int32_t oo, const int16_t *lh, int left, int full,
                                                                   mve_pred16_t keep, int8_t *o) {
  const size_t adv = (size_t)sw * PE_DW_MVE_COL;
  int32_t j;
  for (j = 0; j + 2 <= n; j += 2, s += 2 * adv, o += 2 * ostep) {
    if (left && full)
      PE_DW_MVE_PX2(PE_DW_MVE_TAPS2 PE_DW_MVE_LEFT2 PE_DW_MVE_RQ2 PE_DW_MVE_ST2);
    else if (left)
      PE_DW_MVE_PX2(PE_DW_MVE_TAPS2 PE_DW_MVE_LEFT2 PE_DW_MVE_RQ2 PE_DW_MVE_PST2);
    else if (full)
      PE_DW_MVE_PX2(PE_DW_MVE_TAPS2 PE_DW_MVE_RQ2 PE_DW_MVE_ST2);
    else
      PE_DW_MVE_PX2(PE_DW_MVE_TAPS2 PE_DW_MVE_RQ2 PE_DW_MVE_PST2);
  }
  if (j < n) {
    if (left && full)
      PE_DW_MVE_PX(PE_DW_MVE_TAPS PE_DW_MVE_LEFT PE_DW_MVE_RQ PE_DW_MVE_ST);
    else if (left)
      PE_DW_MVE_PX(PE_DW_MVE_TAPS PE_DW_MVE_LEFT PE_DW_MVE_RQ PE_DW_MVE_PST);
    else if (full)
      PE_DW_MVE_PX(PE_DW_MVE_TAPS PE_DW_MVE_RQ PE_DW_MVE_ST);
    else
      PE_DW_MVE_PX(PE_DW_MVE_TAPS PE_DW_MVE_RQ PE_DW_MVE_PST);
  }
}

/* The constants and weights of the group of m channels from c (m < 8: tail predicates, zero
   weights and constants in the lanes past them; full: m = 8, no predicates). Returns whether a
   channel shifts left. */
static inline __attribute__((always_inline)) int dw3x3_prep_mve(const pe_qs8_dw_args *p, int32_t c, int32_t m,
                                                                 int full, dw_mve_consts *q, int8_t *wt) {
  const uint32x4_t even = vidupq_n_u32(0, 2), odd = vidupq_n_u32(1, 2);
  const int32x4_t zero = vdupq_n_s32(0);
  const mve_pred16_t p16 = vctp16q((uint32_t)m), pe = vctp32q((uint32_t)(m + 1) / 2), po = vctp32q((uint32_t)m / 2);
  const int8_t *f = p->filter + c;
  const size_t ch = (size_t)p->channels;
  int16x8_t ws = vdupq_n_s16(0);
  int32x4_t be, bo, se, so;
  int32_t t;
  for (t = 0; t < 9; ++t, f += ch) {
    const int16x8_t v = full ? vldrbq_s16(f) : vldrbq_z_s16(f, p16);
    ws = vaddq_s16(ws, v);
    vstrbq_s16(wt + t * 8, v);
  }
  be = vmulq_n_s32(vmovlbq_s16(ws), p->input_offset);
  bo = vmulq_n_s32(vmovltq_s16(ws), p->input_offset);
  if (full) {
    if (p->bias != NULL) {
      be = vaddq_s32(be, vldrwq_gather_shifted_offset_s32(p->bias + c, even));
      bo = vaddq_s32(bo, vldrwq_gather_shifted_offset_s32(p->bias + c, odd));
    }
    q->mult_e = vldrwq_gather_shifted_offset_s32(p->mult + c, even);
    q->mult_o = vldrwq_gather_shifted_offset_s32(p->mult + c, odd);
    se = vldrwq_gather_shifted_offset_s32(p->shift + c, even);
    so = vldrwq_gather_shifted_offset_s32(p->shift + c, odd);
  } else {
    if (p->bias != NULL) {
      be = vaddq_s32(be, vldrwq_gather_shifted_offset_z_s32(p->bias + c, even, pe));
      bo = vaddq_s32(bo, vldrwq_gather_shifted_offset_z_s32(p->bias + c, odd, po));
    }
    q->mult_e = vldrwq_gather_shifted_offset_z_s32(p->mult + c, even, pe);
    q->mult_o = vldrwq_gather_shifted_offset_z_s32(p->mult + c, odd, po);
    se = vldrwq_gather_shifted_offset_z_s32(p->shift + c, even, pe);
    so = vldrwq_gather_shifted_offset_z_s32(p->shift + c, odd, po);
  }
  q->base_e = be;
  q->base_o = bo;
  q->left_e = vmaxq_s32(se, zero);
  q->left_o = vmaxq_s32(so, zero);
  q->right_e = vminq_s32(se, zero);
  q->right_o = vminq_s32(so, zero);
  return vmaxvq_s32(0, vmaxq_s32(se, so)) > 0;
}

/* 3x3 filters, dilation 1, any stride and padding. Per chunk of up to 64 channels the constants
   are prepared once a row: the weights copied 8 channels a tap into a block per group, their sums
   (widening loads) times the input offset plus the bias, the multipliers and shifts gathered into
   even and odd lanes. The three input rows the pixels read are copied into a strip per group
   (column after column, PE_DW_MVE_COL bytes each) padded with -input_offset (x + input_offset =
   0: a padding tap adds nothing, as TFLite's skipped taps), so border and inside pixels take one
   path; a row too wide for the strip is done in segments of pixels. The last group of a chunk
   reads its channels under a tail predicate (zero weights in the lanes past it) and stores under
   one. */
static void dw3x3_row_mve(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  const int32_t ch = p->channels, sw = p->stride_w, n_all = ox1 - ox0;
  const int32_t y0 = oy * p->stride_h - p->pad_h;
  int16_t lh[16] __attribute__((aligned(8)));
  const int16x8_t pad = vdupq_n_s16((int16_t)(-p->input_offset));
  dw_mve_consts k[PE_DW_MVE_G];
  int8_t wt[PE_DW_MVE_G * 72] __attribute__((aligned(8)));
  int8_t strip[PE_DW_MVE_STRIP] __attribute__((aligned(16)));
  int32_t c0;
  vstrhq_s16(lh, vdupq_n_s16((int16_t)p->act_min));
  vstrhq_s16(lh + 8, vdupq_n_s16((int16_t)p->act_max));
  for (c0 = 0; c0 < ch && n_all > 0; c0 += 8 * PE_DW_MVE_G) {
    const int32_t cc = ch - c0 < 8 * PE_DW_MVE_G ? ch - c0 : 8 * PE_DW_MVE_G, groups = (cc + 7) / 8;
    const int32_t cols_max = PE_DW_MVE_STRIP / (groups * PE_DW_MVE_COL), seg_max = (cols_max - 3) / sw + 1;
    int32_t g, j0, left = 0;
    for (g = 0; g < groups; ++g) {
      if (cc - 8 * g >= 8)
        left |= dw3x3_prep_mve(p, c0 + 8 * g, 8, 1, k + g, wt + g * 72);
      else
        left |= dw3x3_prep_mve(p, c0 + 8 * g, cc - 8 * g, 0, k + g, wt + g * 72);
    }
    for (j0 = 0; j0 < n_all; j0 += seg_max) {
      const int32_t n = n_all - j0 < seg_max ? n_all - j0 : seg_max, cols = (n - 1) * sw + 3;
      const int32_t xs = (ox0 + j0) * sw - p->pad_w;
      const size_t gs = (size_t)cols * PE_DW_MVE_COL; /* strip bytes of a group */
      int32_t r;
      for (r = 0; r < 3; ++r) { /* columns [jlo, jhi) of strip row r lie inside the input */
        const int32_t iy = y0 + r;
        int32_t jlo = xs < 0 ? -xs : 0, jhi = p->in_w - xs;
        if (jlo > cols) jlo = cols;
        if (jhi > cols) jhi = cols;
        if (jhi < jlo || iy < 0 || iy >= p->in_h) jhi = jlo = cols;
        for (g = 0; g < groups; ++g) {
          int8_t *dst = strip + (size_t)g * gs + (size_t)r * 8;
          const int8_t *src =
              jlo < jhi ? p->input + ((size_t)iy * p->in_w + (size_t)(xs + jlo)) * ch + c0 + 8 * g : p->input;
          int32_t j;
          for (j = 0; j < jlo; ++j) vstrbq_s16(dst + (size_t)j * PE_DW_MVE_COL, pad);
          if (cc - 8 * g >= 8) {
            for (; j < jhi; ++j, src += ch) vstrbq_s16(dst + (size_t)j * PE_DW_MVE_COL, vldrbq_s16(src));
          } else {
            const mve_pred16_t p16 = vctp16q((uint32_t)(cc - 8 * g));
            for (; j < jhi; ++j, src += ch) vstrbq_s16(dst + (size_t)j * PE_DW_MVE_COL, vldrbq_z_s16(src, p16));
          }
          for (; j < cols; ++j) vstrbq_s16(dst + (size_t)j * PE_DW_MVE_COL, pad);
        }
      }
      for (g = 0; g < groups; ++g) {
        const mve_pred16_t keep = vctp16q((uint32_t)(cc - 8 * g));
        const int8_t *sg = strip + (size_t)g * gs, *wg = wt + g * 72;
        int8_t *o = out + (size_t)j0 * ch + c0 + 8 * g;
        const int full = cc - 8 * g >= 8;
        if (left && full)
          dw3x3_group_mve(sg, sw, wg, k + g, n, (size_t)ch, p->output_offset, lh, 1, 1, keep, o);
        else if (left)
          dw3x3_group_mve(sg, sw, wg, k + g, n, (size_t)ch, p->output_offset, lh, 1, 0, keep, o);
        else if (full)
          dw3x3_group_mve(sg, sw, wg, k + g, n, (size_t)ch, p->output_offset, lh, 0, 1, keep, o);
        else
          dw3x3_group_mve(sg, sw, wg, k + g, n, (size_t)ch, p->output_offset, lh, 0, 0, keep, o);
      }
    }
  }
}

/* uint8 filters (w = byte - filter_zp) run the scalar twin here: the loops above read int8 bytes */
void pe_qs8_dw_row__mve(const pe_qs8_dw_args *p, int32_t oy, int32_t ox0, int32_t ox1, int8_t *out) {
  if (p->filter_u8)
    pe_qs8_dw_row__scalar(p, oy, ox0, ox1, out);
  else if (p->kh == 3 && p->kw == 3 && p->dilation_h == 1 && p->dilation_w == 1)
    dw3x3_row_mve(p, oy, ox0, ox1, out);
  else
    dw_row_mve_s8(p, oy, ox0, ox1, out);
}
#else
typedef int pe_qs8_dwconv_mve_unused; /* ISO C: a translation unit holds a declaration */
#endif
