/* int8 GEMM microkernels for the Cortex-M DSP extension (Armv7E-M, Armv8-M Main with DSP) over
 * the PE_LAYOUT_QS8_GEMM_N16K4 layout (qs8_gemm.h), bit-identical to pe_qs8_gemm_1x16c4__scalar.
 *
 * A k-group is one 32-bit word per channel (4 int8 weights) and one per row (4 uint8 panel
 * bytes, x ^ 0x80). SXTB16 / UXTB16 (with ROR #8 for the odd bytes) split each word into two
 * pairs of int16, and SMLAD adds both pair products to an int32 accumulator: the products are
 * exact (|w| <= 128, a <= 255) and SMLAD wraps mod 2^32 as the scalar twin's accumulator does.
 * Tiles of 2 rows x 2 channels keep the 4 accumulators in registers; only the nc channels the
 * block stores are computed (rounded up to a pair: the layout holds all 16, padded with zeros).
 * Built on M-profile cores with the DSP extension only (PE_DSP_KERNELS); elsewhere this file is
 * empty. */
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

void pe_qs8_gemm_2x16c4__dsp(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult, const int32_t *shift,
                             int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *c, size_t c_stride,
                             const int32_t *rowadd) {
  const uint8_t *a0 = a, *a1 = a + a_stride;
  int8_t *c0 = c, *c1 = c + c_stride;
  size_t n;
  if (mr < 2) {
    pe_qs8_gemm_1x16c4__dsp(mr, nc, kp, a, a_stride, w, init, mult, shift, output_offset, act_min, act_max, c,
                            c_stride, rowadd);
    return;
  }
  for (n = 0; n < nc; n += 2) {
    const int8_t *wp = w + n * PE_GEMM_KR;
    const uint32_t ra0 = rowadd != NULL ? (uint32_t)rowadd[0] : 0u, ra1 = rowadd != NULL ? (uint32_t)rowadd[1] : 0u;
    int32_t s00 = (int32_t)((uint32_t)init[n] + ra0), s01 = (int32_t)((uint32_t)init[n + 1] + ra0);
    int32_t s10 = (int32_t)((uint32_t)init[n] + ra1), s11 = (int32_t)((uint32_t)init[n + 1] + ra1);
    const uint8_t *p0 = a0, *p1 = a1, *const end = a0 + kp;
    for (; p0 != end; p0 += PE_GEMM_KR, p1 += PE_GEMM_KR, wp += PE_GEMM_NR * PE_GEMM_KR) {
      const uint32_t x0 = ld32(p0), x1 = ld32(p1);
      const int32_t x0l = (int32_t)__uxtb16(x0), x0h = uxtb16_ror8(x0);
      const int32_t x1l = (int32_t)__uxtb16(x1), x1h = uxtb16_ror8(x1);
      uint32_t wv = ld32(wp);
      int32_t wl = (int32_t)__sxtb16(wv), wh = sxtb16_ror8(wv);
      s00 = __smlad(wl, x0l, s00);
      s00 = __smlad(wh, x0h, s00);
      s10 = __smlad(wl, x1l, s10);
      s10 = __smlad(wh, x1h, s10);
      wv = ld32(wp + 4);
      wl = (int32_t)__sxtb16(wv);
      wh = sxtb16_ror8(wv);
      s01 = __smlad(wl, x0l, s01);
      s01 = __smlad(wh, x0h, s01);
      s11 = __smlad(wl, x1l, s11);
      s11 = __smlad(wh, x1h, s11);
    }
    {
      const pe_dsp_rq q = pe_dsp_rq_channel(mult[n], shift[n]);
      c0[n] = pe_dsp_requant(s00, q, output_offset, act_min, act_max);
      c1[n] = pe_dsp_requant(s10, q, output_offset, act_min, act_max);
    }
    if (n + 1 < nc) {
      const pe_dsp_rq q = pe_dsp_rq_channel(mult[n + 1], shift[n + 1]);
      c0[n + 1] = pe_dsp_requant(s01, q, output_offset, act_min, act_max);
      c1[n + 1] = pe_dsp_requant(s11, q, output_offset, act_min, act_max);
    }
  }
}
#else
typedef int pe_qs8_gemm_dsp_unused; /* ISO C: a translation unit holds a declaration */
#endif
