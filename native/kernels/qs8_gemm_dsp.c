/* int8 GEMM microkernels for the Cortex-M DSP extension (Armv7E-M, Armv8-M Main with DSP) over
 * the PE_LAYOUT_QS8_GEMM_N16K4 layout (qs8_gemm.h), bit-identical to pe_qs8_gemm_1x16c4__scalar.
 *
 * A k-group is one 32-bit word per channel (4 int8 weights) and one per row (4 uint8 panel
 * bytes, x ^ 0x80). SXTB16 / UXTB16 (with ROR #8 for the odd bytes) split each word into two
 * pairs of int16, and SMLAD adds both pair products to an int32 accumulator: the products are
 * exact (|w| <= 128, a <= 255) and SMLAD wraps mod 2^32 as the scalar twin's accumulator does.
 * The 8-row kernel works in 2 x 2 tiles (2 rows x 2 channels, 4 accumulators in registers) on
 * panel rows widened once per call; the 1-row kernel splits the panel word per channel pair.
 * Only the nc channels the block stores are computed (rounded up to a pair: the layout holds all
 * 16, padded with zeros). Requantization: pe_requant_dsp.h. Built on M-profile cores with the
 * DSP extension only (PE_DSP_KERNELS); elsewhere this file is empty. */
#include "pe_kernel.h"

#if PE_DSP_KERNELS
#include <arm_acle.h>

#include "pe_requant_dsp.h"
#include "qs8_gemm.h"

static inline uint32_t ld32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* the odd bytes of a word as int16 / uint16 pairs: SXTB16 / UXTB16 with ROR #8 (one instruction) */
static inline int32_t sxtb16_ror8(uint32_t x) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
static inline int32_t uxtb16_ror8(uint32_t x) {
  int32_t r;
  __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}


/* one row x 2 channels (n, n + 1) over all k-groups */
static inline void row_pair(size_t kp, const uint8_t *a, const int8_t *wp, int32_t *acc0, int32_t *acc1) {
  int32_t s0 = *acc0, s1 = *acc1;
  size_t g;
  for (g = 0; g < kp; g += PE_GEMM_KR, wp += PE_GEMM_NR * PE_GEMM_KR) {
    const uint32_t x = ld32(a + g), wa = ld32(wp), wb = ld32(wp + 4);
    const int32_t xl = (int32_t)__uxtb16(x), xh = uxtb16_ror8(x);
    s0 = __smlad((int32_t)__sxtb16(wa), xl, s0);
    s0 = __smlad(sxtb16_ror8(wa), xh, s0);
    s1 = __smlad((int32_t)__sxtb16(wb), xl, s1);
    s1 = __smlad(sxtb16_ror8(wb), xh, s1);
  }
  *acc0 = s0;
  *acc1 = s1;
}

void pe_qs8_gemm_1x16c4__dsp(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult, const int32_t *shift,
                             int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *c, size_t c_stride,
                             const int32_t *rowadd) {
  size_t r, n;
  for (r = 0; r < mr; ++r, a += a_stride, c += c_stride) {
    for (n = 0; n < nc; n += 2) {
      const uint32_t ra = rowadd != NULL ? (uint32_t)rowadd[r] : 0u;
      int32_t s0 = (int32_t)((uint32_t)init[n] + ra), s1 = (int32_t)((uint32_t)init[n + 1] + ra);
      row_pair(kp, a, w + n * PE_GEMM_KR, &s0, &s1);
      c[n] = pe_dsp_requant(s0, pe_dsp_rq_channel(mult[n], shift[n]), output_offset, act_min, act_max);
      if (n + 1 < nc)
        c[n + 1] = pe_dsp_requant(s1, pe_dsp_rq_channel(mult[n + 1], shift[n + 1]), output_offset, act_min, act_max);
    }
  }
}

/* k-groups per chunk of the 2-row kernel: its widened panel (4 words a k-group) is 1 KiB of stack */
#define PE_GEMM_DSP_KG 64

/* 2 rows x channels n, n + 1 over ng k-groups of the widened panel q (x0 low, x0 high, x1 low,
   x1 high pairs per group) and the weights wp (the block's k-group stride 64 bytes): LDRD takes
   both channels' 4 weights, SXTB16 splits them, and each pair of a row is one SMLAD. Two k-groups
   a pass (15 instructions a group, 2 a pass for the loop), then a lone last group. */
static inline void tile_2x2(const uint32_t *q, const int8_t *wp, size_t ng, int32_t *s) {
  int32_t s00 = s[0], s01 = s[1], s10 = s[PE_GEMM_NR], s11 = s[PE_GEMM_NR + 1];
  uint32_t wa, wb, ta, tb, xl, xh;
  const uint32_t *const end2 = q + 4 * (ng & ~(size_t)1);
  if (q != end2)
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[wa], %[wb], [%[wp]], #128\n\t"
        "sxtb16 %[ta], %[wa]\n\t"
        "sxtb16 %[wa], %[wa], ror #8\n\t"
        "sxtb16 %[tb], %[wb]\n\t"
        "sxtb16 %[wb], %[wb], ror #8\n\t"
        "ldrd %[xl], %[xh], [%[q]], #32\n\t"
        "smlad %[s00], %[ta], %[xl], %[s00]\n\t"
        "smlad %[s00], %[wa], %[xh], %[s00]\n\t"
        "smlad %[s01], %[tb], %[xl], %[s01]\n\t"
        "smlad %[s01], %[wb], %[xh], %[s01]\n\t"
        "ldrd %[xl], %[xh], [%[q], #-24]\n\t"
        "smlad %[s10], %[ta], %[xl], %[s10]\n\t"
        "smlad %[s10], %[wa], %[xh], %[s10]\n\t"
        "smlad %[s11], %[tb], %[xl], %[s11]\n\t"
        "smlad %[s11], %[wb], %[xh], %[s11]\n\t"
        "ldrd %[wa], %[wb], [%[wp], #-64]\n\t"
        "sxtb16 %[ta], %[wa]\n\t"
        "sxtb16 %[wa], %[wa], ror #8\n\t"
        "sxtb16 %[tb], %[wb]\n\t"
        "sxtb16 %[wb], %[wb], ror #8\n\t"
        "ldrd %[xl], %[xh], [%[q], #-16]\n\t"
        "smlad %[s00], %[ta], %[xl], %[s00]\n\t"
        "smlad %[s00], %[wa], %[xh], %[s00]\n\t"
        "smlad %[s01], %[tb], %[xl], %[s01]\n\t"
        "smlad %[s01], %[wb], %[xh], %[s01]\n\t"
        "ldrd %[xl], %[xh], [%[q], #-8]\n\t"
        "smlad %[s10], %[ta], %[xl], %[s10]\n\t"
        "smlad %[s10], %[wa], %[xh], %[s10]\n\t"
        "smlad %[s11], %[tb], %[xl], %[s11]\n\t"
        "smlad %[s11], %[wb], %[xh], %[s11]\n\t"
        "cmp %[q], %[end]\n\t"
        "bne 1b\n\t"
        : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [q] "+r"(q), [wp] "+r"(wp),
          [wa] "=&r"(wa), [wb] "=&r"(wb), [ta] "=&r"(ta), [tb] "=&r"(tb), [xl] "=&r"(xl), [xh] "=&r"(xh)
        : [end] "r"(end2)
        : "cc", "memory");
  if (ng & 1u) {
    wa = ld32(wp);
    wb = ld32(wp + 4);
    ta = __sxtb16(wa);
    wa = (uint32_t)sxtb16_ror8(wa);
    tb = __sxtb16(wb);
    wb = (uint32_t)sxtb16_ror8(wb);
    s00 = __smlad((int32_t)ta, (int32_t)q[0], s00);
    s00 = __smlad((int32_t)wa, (int32_t)q[1], s00);
    s01 = __smlad((int32_t)tb, (int32_t)q[0], s01);
    s01 = __smlad((int32_t)wb, (int32_t)q[1], s01);
    s10 = __smlad((int32_t)ta, (int32_t)q[2], s10);
    s10 = __smlad((int32_t)wa, (int32_t)q[3], s10);
    s11 = __smlad((int32_t)tb, (int32_t)q[2], s11);
    s11 = __smlad((int32_t)wb, (int32_t)q[3], s11);
  }
  s[0] = s00;
  s[1] = s01;
  s[PE_GEMM_NR] = s10;
  s[PE_GEMM_NR + 1] = s11;
}

/* Requantize channels [0, nc) of two rows (acc: row 0's 16 sums, then row 1's); full: the clamp is
   int8's own range, one SSAT. */
static PE_DSP_RQ_INLINE void requant_2rows(const int32_t *acc, const pe_dsp_rq *q, size_t nc,
                                                                int8_t *c0, int8_t *c1, int32_t oo, int32_t lo,
                                                                int32_t hi, int right, int full) {
  size_t n;
  for (n = 0; n < nc; ++n, ++q) {
    c0[n] = pe_dsp_requant_k(acc[n], *q, oo, lo, hi, right, full);
    c1[n] = pe_dsp_requant_k(acc[PE_GEMM_NR + n], *q, oo, lo, hi, right, full);
  }
}

/* Up to 8 rows, two at a time (a lone last row: the 1-row kernel). Each channel's requantization
   constants are prepared once per call (pe_dsp_rq_channel) and serve every row. A row pair's panel
   rows are widened to uint16 pairs once per chunk of k-groups (UXTB16, and with ROR #8 for the
   odd bytes) and shared by every channel pair of the block, so a k-group of a 2 x 2 tile is three
   LDRD, four SXTB16 and eight SMLAD. The accumulators of all channels of the pair stay on the
   stack across chunks; the requantization runs last. */
void pe_qs8_gemm_8x16c4__dsp(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult, const int32_t *shift,
                             int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *c, size_t c_stride,
                             const int32_t *rowadd) {
  const size_t np = (nc + 1u) & ~(size_t)1, groups = kp / PE_GEMM_KR;
  const int full = act_min == -128 && act_max == 127;
  int right = 1; /* every channel shifts right */
  uint32_t wide[4 * PE_GEMM_DSP_KG];
  int32_t acc[2 * PE_GEMM_NR]; /* row 0's sums, then row 1's */
  pe_dsp_rq q[PE_GEMM_NR];
  size_t n, g0, r;
  if (mr < 2) {
    pe_qs8_gemm_1x16c4__dsp(mr, nc, kp, a, a_stride, w, init, mult, shift, output_offset, act_min, act_max, c,
                            c_stride, rowadd);
    return;
  }
  for (n = 0; n < nc; ++n) {
    q[n] = pe_dsp_rq_channel(mult[n], shift[n]);
    right &= shift[n] <= -1;
  }
  for (r = 0; r + 2 <= mr; r += 2) {
    const uint8_t *a0 = a + r * a_stride, *a1 = a0 + a_stride;
    int8_t *c0 = c + r * c_stride, *c1 = c0 + c_stride;
    const uint32_t ra0 = rowadd != NULL ? (uint32_t)rowadd[r] : 0u, ra1 = rowadd != NULL ? (uint32_t)rowadd[r + 1] : 0u;
    for (n = 0; n < np; ++n) {
      acc[n] = (int32_t)((uint32_t)init[n] + ra0);
      acc[PE_GEMM_NR + n] = (int32_t)((uint32_t)init[n] + ra1);
    }
    for (g0 = 0; g0 < groups; g0 += PE_GEMM_DSP_KG) {
      const size_t ng = groups - g0 < PE_GEMM_DSP_KG ? groups - g0 : PE_GEMM_DSP_KG;
      const uint8_t *p0 = a0 + g0 * PE_GEMM_KR, *p1 = a1 + g0 * PE_GEMM_KR;
      size_t g;
      for (g = 0; g < ng; ++g) {
        const uint32_t x0 = ld32(p0 + 4 * g), x1 = ld32(p1 + 4 * g);
        wide[4 * g] = __uxtb16(x0);
        wide[4 * g + 1] = (uint32_t)uxtb16_ror8(x0);
        wide[4 * g + 2] = __uxtb16(x1);
        wide[4 * g + 3] = (uint32_t)uxtb16_ror8(x1);
      }
      for (n = 0; n < np; n += 2) tile_2x2(wide, w + (g0 * PE_GEMM_NR + n) * PE_GEMM_KR, ng, acc + n);
    }
#define PE_GEMM_DSP_RQ(right_, full_) requant_2rows(acc, q, nc, c0, c1, output_offset, act_min, act_max, right_, full_)
    PE_DSP_RQ_DISPATCH(PE_GEMM_DSP_RQ, right, full);
#undef PE_GEMM_DSP_RQ
  }
  if (r < mr)
    pe_qs8_gemm_1x16c4__dsp(1, nc, kp, a + r * a_stride, a_stride, w, init, mult, shift, output_offset, act_min,
                            act_max, c + r * c_stride, c_stride, rowadd != NULL ? rowadd + r : NULL);
}
#else
typedef int pe_qs8_gemm_dsp_unused; /* ISO C: a translation unit holds a declaration */
#endif
