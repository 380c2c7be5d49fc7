/* int8 GEMM microkernel for Cortex-M Helium (MVE, Armv8.1-M: Cortex-M55/M85) over the
 * PE_LAYOUT_QS8_GEMM_N16K4 layout (qs8_gemm.h), bit-identical to pe_qs8_gemm_1x16c4__scalar.
 *
 * Up to 4 rows: per call the rows' panel bytes are flipped back to int8 (x = a ^ 0x80) once
 * (per 256 k) into a stack buffer interleaved by 16 k (0x80 past kp, against zero weights). Then one
 * channel at a time (the full 16-k steps in inline assembly, the sums in registers to the store):
 * a byte gather (VLDRB with offsets 0-3, 64-67, 128-131, 192-195) takes the channel's 16 weights
 * of 4 consecutive k-groups and VMLADAVA sums the 16 exact products into each row's int32
 * accumulator; VADDVA sums the weights, so that acc = init + 128 * sum(w) + sum(w * x)
 * = init + sum(w * a), the scalar twin's sum (mod 2^32). The last k-groups (kp not a multiple of
 * 16) are gathered under a tail predicate (VCTP), zeroing the weights there. Only the nc channels
 * stored are computed; the rows' results are requantized as one vector and stored with a byte
 * scatter (row r at r * c_stride; rows past mr repeat row mr - 1). Built on M-profile cores with integer MVE only
 * (PE_MVE_KERNELS); elsewhere this file is empty. */
#include "pe_kernel.h"

#if PE_MVE_KERNELS
#include <arm_mve.h>

#include "qs8_gemm.h"

#define PE_GEMM_MVE_KC 256 /* k per chunk of the flipped panel: 4 rows x 256 bytes of stack */

/* 4 rows x channel n over kc k (a multiple of 4) of the flipped panel xb (per 16 k: row 0's 16
   bytes, then rows 1, 2, 3; zero past kc) and the channel's weights wn (its word of the first
   k-group): s[0..3] the rows' sums, *ws the weight sum. Per 16 k: one gather, four row loads,
   four VMLADAVA, one VADDVA. */
static inline void tile_4x1(const int8_t *xb, const int8_t *wn, size_t kc, uint8x16_t offs, int32_t *s,
                            int32_t *ws) {
  int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], w0 = *ws;
  size_t i;
  for (i = kc / 16; i != 0; --i) {
    const int8x16_t wa = vldrbq_gather_offset_s8(wn, offs);
    const int8x16_t x0 = vld1q_s8(xb), x1 = vld1q_s8(xb + 16), x2 = vld1q_s8(xb + 32), x3 = vld1q_s8(xb + 48);
    xb += 64;
    wn += 256;
    s0 = vmladavaq_s8(s0, wa, x0);
    s1 = vmladavaq_s8(s1, wa, x1);
    s2 = vmladavaq_s8(s2, wa, x2);
    s3 = vmladavaq_s8(s3, wa, x3);
    w0 = vaddvaq_s8(w0, wa);
  }
  if (kc % 16 != 0) {
    const size_t g = kc & ~(size_t)15; /* the last k-groups: the weights under a tail predicate (zero past kc) */
    const int8x16_t wa = vldrbq_gather_offset_z_s8(wn, offs, vctp8q((uint32_t)(kc - g)));

    s0 = vmladavaq_s8(s0, wa, vld1q_s8(xb));
    s1 = vmladavaq_s8(s1, wa, vld1q_s8(xb + 16));
    s2 = vmladavaq_s8(s2, wa, vld1q_s8(xb + 32));
    s3 = vmladavaq_s8(s3, wa, vld1q_s8(xb + 48));
    w0 = vaddvaq_s8(w0, wa);
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
  *ws = w0;
}

/* The rows' panel bytes k0 .. k0 + kc flipped back to int8 (x = a ^ 0x80) into xb, interleaved
   by 16 k (row 0's 16 bytes, then rows 1, 2, 3). Bytes past kc are read as zero (the loads stop
   at the row's end) and stored as 0x80: the weights there are zero or predicated away. */
static inline void flip_rows(int8_t *xb, const uint8_t *const *ar, size_t k0, size_t kc) {
  const uint8x16_t flip = vdupq_n_u8(0x80);
  const uint8_t *a0 = ar[0] + k0, *a1 = ar[1] + k0, *a2 = ar[2] + k0, *a3 = ar[3] + k0;
  uint8_t *o = (uint8_t *)xb;
  size_t j;
  for (j = 0; j < kc; j += 16, o += 64) {
    const mve_pred16_t p = vctp8q((uint32_t)(kc - j));
    vst1q_u8(o, veorq_u8(vldrbq_z_u8(a0 + j, p), flip));
    vst1q_u8(o + 16, veorq_u8(vldrbq_z_u8(a1 + j, p), flip));
    vst1q_u8(o + 32, veorq_u8(vldrbq_z_u8(a2 + j, p), flip));
    vst1q_u8(o + 48, veorq_u8(vldrbq_z_u8(a3 + j, p), flip));
  }
}

/* The full 16-k steps of one channel over the 4 interleaved rows (xp, advanced) and the
   channel's weights (wp, advanced): per step one gather, four row loads, four VMLADAVA and one
   VADDVA and the loop's LE, 12 instructions for 64 MACs. In assembly: VMLADAVA accumulates into
   even registers only, and GCC's choice of them costs a copy a step. */
static inline void dot_4x1(const int8_t **xpp, const int8_t **wpp, size_t n16, uint8x16_t offs, int32_t *r0,
                           int32_t *r1, int32_t *r2, int32_t *r3, int32_t *rws) {
  register int32_t s0 __asm__("r0") = 0;
  register int32_t s1 __asm__("r2") = 0;
  register int32_t s2 __asm__("r4") = 0;
  register int32_t s3 __asm__("r6") = 0;
  register int32_t ws __asm__("r8") = 0;
  const int8_t *xp = *xpp, *wp = *wpp;
  if (n16 != 0) {
    __asm__("dls lr, %[n]\n"
            "1:\n\t"
            "vldrb.u8 q0, [%[wp], %q[offs]]\n\t"
            "vldrb.u8 q1, [%[xp]], #16\n\t"
            "vmladava.s8 %[s0], q0, q1\n\t"
            "vldrb.u8 q1, [%[xp]], #16\n\t"
            "vmladava.s8 %[s1], q0, q1\n\t"
            "vldrb.u8 q1, [%[xp]], #16\n\t"
            "vmladava.s8 %[s2], q0, q1\n\t"
            "vldrb.u8 q1, [%[xp]], #16\n\t"
            "vmladava.s8 %[s3], q0, q1\n\t"
            "vaddva.s8 %[ws], q0\n\t"
            "add %[wp], %[wp], #256\n\t"
            "le lr, 1b"
            : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [ws] "+r"(ws), [xp] "+r"(xp),
              [wp] "+r"(wp)
            : [n] "r"(n16), [offs] "w"(offs)
            : "lr", "q0", "q1", "memory");
  }
  *xpp = xp;
  *wpp = wp;
  *r0 = s0;
  *r1 = s1;
  *r2 = s2;
  *r3 = s3;
  *rws = ws;
}

/* TFLite's requantization of 4 lanes with one channel's multiplier (>= 0) and shift, exactly as
   pe_conv_requant32: VQRDMULH is gemmlowp's rounding doubling high multiply bit for bit; VRSHL
   rounds ties up, so negative values first move down by one when there is a right shift (the
   NEON kernels' pe_requant_neon.h does the same); the left shift wraps (VSHL). The shift is a
   scalar: one branch per channel instead of vector masks. */
static inline int32x4_t requant4s(int32x4_t acc, int32_t mult, int32_t shift, int32_t output_offset,
                                  int32x4_t vmin, int32x4_t vmax) {
  int32x4_t x;
  if (shift > 0) {
    x = vqrdmulhq_n_s32(vshlq_r_s32(acc, shift), mult);
  } else {
    x = vqrdmulhq_n_s32(acc, mult);
    if (shift < 0) x = vrshlq_n_s32(vqaddq_s32(x, vshrq_n_s32(x, 31)), shift);
  }
  return vminq_s32(vmaxq_s32(vaddq_n_s32(x, output_offset), vmin), vmax);
}

/* Up to 4 rows: the rows' panel bytes are flipped back to int8 (x = a ^ 0x80) once per chunk of
   256 k into a stack buffer, interleaved by 16 k so that one pointer reaches all four rows; then
   a channel at a time, each 16 k one gather, four row loads, four VMLADAVA and one VADDVA.
   acc = init + 128 * sum(w) + sum(w * x) = init + sum(w * a), the scalar twin's sum (mod 2^32).
   A channel's 4 rows are requantized as one vector and stored with a byte scatter (row r at
   r * c_stride). With kp <= 256 (one chunk) a channel's sums stay in registers from the first k
   to its store. */
void pe_qs8_gemm_4x16c4__mve(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult, const int32_t *shift,
                             int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *c, size_t c_stride,
                             const int32_t *rowadd) {
  static const uint8_t offs_[16] = {0, 1, 2, 3, 64, 65, 66, 67, 128, 129, 130, 131, 192, 193, 194, 195};
  const uint8x16_t offs = vld1q_u8(offs_);
  /* row r's byte at r * c_stride; rows past mr compute row mr - 1's values (their panel row is
     its copy) and store them there again, so that the scatter needs no predicate */
  const uint32x4_t rows = vmulq_n_u32(vminq_u32(vidupq_n_u32(0, 1), vdupq_n_u32((uint32_t)mr - 1u)), (uint32_t)c_stride);
  const int32x4_t vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const uint8_t *ar[4];
  int8_t xb[4 * PE_GEMM_MVE_KC] __attribute__((aligned(16)));
  int32x4_t ra = vdupq_n_s32(0);
  size_t n, k0, r;
  for (r = 0; r < 4; ++r) ar[r] = a + (r < mr ? r : mr - 1) * a_stride; /* rows past mr: row mr - 1 again */
  if (rowadd != NULL) { /* the uint8 weight zero point's per-row term (qs8_gemm.h) */
    int32_t t[4] = {0, 0, 0, 0};
    for (r = 0; r < 4; ++r) t[r] = rowadd[r < mr ? r : mr - 1]; /* rows past mr: row mr - 1's, as their panel */
    ra = vld1q_s32(t);
  }
  if (kp <= PE_GEMM_MVE_KC) {
    const size_t full = kp / 16;
    const mve_pred16_t tp = vctp8q((uint32_t)(kp % 16));
    const int8_t *wn = w;
    flip_rows(xb, ar, 0, kp);
    for (n = 0; n < nc; ++n, wn += PE_GEMM_KR) {
      const int8_t *xp = xb, *wp = wn;
      int32_t s0, s1, s2, s3, ws;
      dot_4x1(&xp, &wp, full, offs, &s0, &s1, &s2, &s3, &ws);
      if (kp % 16 != 0) { /* the last k-groups: the weights under a tail predicate (zero past kp) */
        const int8x16_t wa = vldrbq_gather_offset_z_s8(wp, offs, tp);
        s0 = vmladavaq_s8(s0, wa, vld1q_s8(xp));
        s1 = vmladavaq_s8(s1, wa, vld1q_s8(xp + 16));
        s2 = vmladavaq_s8(s2, wa, vld1q_s8(xp + 32));
        s3 = vmladavaq_s8(s3, wa, vld1q_s8(xp + 48));
        ws = vaddvaq_s8(ws, wa);
      }
      {
        int32x4_t v = vsetq_lane_s32(s3, vsetq_lane_s32(s2, vsetq_lane_s32(s1, vdupq_n_s32(s0), 1), 2), 3);
        v = vaddq_s32(vaddq_n_s32(v, (int32_t)((uint32_t)init[n] + 128u * (uint32_t)ws)), ra);
        vstrbq_scatter_offset_s32(c + n, rows, requant4s(v, mult[n], shift[n], output_offset, vmin, vmax));
      }
    }
    return;
  }
  {
    int32_t acc[PE_GEMM_NR * 4]; /* channel n's rows at 4 n */
    int32_t ws[PE_GEMM_NR];
    for (n = 0; n < nc; ++n) {
      vst1q_s32(acc + 4 * n, vdupq_n_s32(0));
      ws[n] = 0;
    }
    for (k0 = 0; k0 < kp; k0 += PE_GEMM_MVE_KC) {
      const size_t kc = kp - k0 < PE_GEMM_MVE_KC ? kp - k0 : PE_GEMM_MVE_KC;
      flip_rows(xb, ar, k0, kc);
      for (n = 0; n < nc; ++n) tile_4x1(xb, w + k0 * PE_GEMM_NR + n * PE_GEMM_KR, kc, offs, acc + 4 * n, ws + n);
    }
    for (n = 0; n < nc; ++n) {
      const int32_t base = (int32_t)((uint32_t)init[n] + 128u * (uint32_t)ws[n]);
      const int32x4_t v = vaddq_s32(vaddq_n_s32(vld1q_s32(acc + 4 * n), base), ra);
      vstrbq_scatter_offset_s32(c + n, rows, requant4s(v, mult[n], shift[n], output_offset, vmin, vmax));
    }
  }
}
#else
typedef int pe_qs8_gemm_mve_unused; /* ISO C: a translation unit holds a declaration */
#endif
