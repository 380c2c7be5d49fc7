/* int8 GEMM microkernels and their packed weight layout (PE_LAYOUT_QS8_GEMM_N16K4).
 *
 * FULLY_CONNECTED, CONV_2D (1x1 directly, k x k through an im2col panel) and BATCH_MATMUL are
 * drivers over these: they tile the output into rows (pixels, batch rows) x blocks of 16
 * channels and call one microkernel per tile. Every microkernel reads the same packed layout and
 * gives the same bytes as its scalar twin, pe_qs8_gemm_1x16c4__scalar.
 *
 * Arithmetic (TFLite's int8 conv/FC, exactly): for row r and channel n of the tile,
 *   acc = init[n] + sum_{k < kp} w[n][k] * a[r][k]          (mod 2^32: TFLite's int32 accumulator)
 *   y   = clamp(mbqm(acc, mult[n], shift[n]) + output_offset, act_min, act_max)
 * where a[r][k] = x[r][k] ^ 0x80 = x + 128 as uint8 (the activation panel), and the pack function
 * puts init[n] = bias[n] + (input_offset - 128) * sum_k w[n][k], so that acc is TFLite's
 * sum_k w * (x + input_offset) + bias mod 2^32. Taps in the zero padding of a convolution are
 * written into the panel as the input zero point (x + input_offset = 0), and K past k is padded
 * with zero weights, so both contribute nothing.
 *
 * Packed layout for oc channels and k inputs, ocp = round_up(oc, 16), kp = round_up(k, 4); all
 * int32 arrays have ocp entries (entries past oc are 0):
 *   int32 init[ocp]   bias + (input_offset - 128) * wsum, wrapped
 *   int32 wsum[ocp]   sum_k w[n][k], wrapped (signed-dot variants start from init + 128 * wsum
 *                     = bias + input_offset * wsum)
 *   int32 mult[ocp]   per-channel multipliers (>= 0)
 *   int32 shift[ocp]  per-channel shifts (> 0: left), in [-31, 30]
 *   int8  w[ocp / 16][kp / 4][16][4]   block b, k-group g: byte n * 4 + j = W[16 b + n][4 g + j]
 * The weight section starts at byte 16 * ocp, so it is 16-aligned when the tensor is.
 */
#ifndef PE_QS8_GEMM_H
#define PE_QS8_GEMM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PE_GEMM_NR 16
#define PE_GEMM_KR 4

/* BEGIN CDEF */
/* Bytes of the packed layout for oc channels and k inputs. */
uint32_t pe_qs8_gemm_packed_bytes(int32_t oc, int32_t k);
/* Pack W [oc][k] (row stride k), bias [oc] (NULL: 0), mult/shift [oc] into out
   (pe_qs8_gemm_packed_bytes(oc, k) bytes). */
void pe_qs8_gemm_pack(int32_t oc, int32_t k, const int8_t *w, const int32_t *bias,
                      const int32_t *mult, const int32_t *shift, int32_t input_offset, void *out);
/* END CDEF */

/* One tile: mr rows (1 <= mr <= the kernel's MR), nc channels stored (1 <= nc <= 16) of one
 * 16-channel block. a: row r at a + r * a_stride, kp bytes (kp a multiple of 4, >= 4);
 * w: the block's kp * 16 weight bytes; init, mult, shift: the block's 16 entries, all three in the
 * same packed layout (a kernel may read the block's wsum entries at init + (mult - init) / 2);
 * c: row r at c + r * c_stride, nc bytes written, nothing else; rowadd: NULL, or mr int32 terms,
 * rowadd[r] added (mod 2^32) to every channel's acc of row r before requantization (the weight
 * zero point's term of uint8 convolutions, see gemm_drivers.c). */
typedef void (*pe_qs8_gemm_fn)(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                               const int8_t *w, const int32_t *init, const int32_t *mult,
                               const int32_t *shift, int32_t output_offset, int32_t act_min,
                               int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);

/* The activation panel's copy: dst[i] = src[i] ^ flip for i < n (0x80: int8 x as the uint8
 * x + 128 the microkernels read; 0: uint8 bytes as they are). dst and src are the same buffer
 * (in place) or do not overlap. Every variant writes exactly dst[0 .. n). */
typedef void (*pe_qs8_flip_fn)(uint8_t *dst, const int8_t *src, size_t n, uint8_t flip);

/* A microkernel with its tile height, as the variant table names it; `fn1` (or NULL) computes a
   single-row tile faster than fn with mr = 1 (drivers call it for a lone row); `flip` (or NULL:
   pe_qs8_flip__scalar) fills the panel with the vectors of the microkernel's ISA. */
typedef struct {
  pe_qs8_gemm_fn fn;
  uint32_t mr;
  const char *name;
  pe_qs8_gemm_fn fn1;
  pe_qs8_flip_fn flip;
} pe_qs8_gemm_ukernel;

void pe_qs8_flip__scalar(uint8_t *dst, const int8_t *src, size_t n, uint8_t flip);
void pe_qs8_flip__avx2(uint8_t *dst, const int8_t *src, size_t n, uint8_t flip);
void pe_qs8_flip__avx512(uint8_t *dst, const int8_t *src, size_t n, uint8_t flip);

void pe_qs8_gemm_1x16c4__scalar(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                const int8_t *w, const int32_t *init, const int32_t *mult,
                                const int32_t *shift, int32_t output_offset, int32_t act_min,
                                int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_4x16c4__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_1x16c4__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_1x16c4__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_8x16c4__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
/* Arm: NEON (SMULL + SADALP; 2 rows on AArch64, 1 on ARMv7), dot product (SDOT), i8mm (SUDOT). */
void pe_qs8_gemm_2x16c4__neon(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_1x16c4__neon(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_4x16c4__neondot(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                 const int8_t *w, const int32_t *init, const int32_t *mult,
                                 const int32_t *shift, int32_t output_offset, int32_t act_min,
                                 int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_4x16c4__neoni8mm(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                  const int8_t *w, const int32_t *init, const int32_t *mult,
                                  const int32_t *shift, int32_t output_offset, int32_t act_min,
                                  int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
/* Cortex-M DSP (SMLAD on int16 pairs): up to 8 rows (2 x 2 tiles on a widened panel), and a single-row tile. */
void pe_qs8_gemm_8x16c4__dsp(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult,
                             const int32_t *shift, int32_t output_offset, int32_t act_min,
                             int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
void pe_qs8_gemm_1x16c4__dsp(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult,
                             const int32_t *shift, int32_t output_offset, int32_t act_min,
                             int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
/* Cortex-M Helium (MVE): up to 4 rows, one channel at a time (VMLADAVA over 16 k). */
void pe_qs8_gemm_4x16c4__mve(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                             const int8_t *w, const int32_t *init, const int32_t *mult,
                             const int32_t *shift, int32_t output_offset, int32_t act_min,
                             int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd);
#if defined(__aarch64__)
#define pe_qs8_gemm_neon pe_qs8_gemm_2x16c4__neon
#define PE_GEMM_NEON_MR 2
#define PE_GEMM_NEON_NAME "gemm_2x16c4__neon"
#else
#define pe_qs8_gemm_neon pe_qs8_gemm_1x16c4__neon
#define PE_GEMM_NEON_MR 1
#define PE_GEMM_NEON_NAME "gemm_1x16c4__neon"
#endif

/* The scalar twin of the flip copies (pe_qs8_flip__scalar), inline for the drivers' short runs:
   eight bytes at a time; copying (dst and src apart), a run of 4 or more bytes ends with an
   overlapping word (the bytes it writes twice get the same value), so no byte loop runs for them;
   in place (dst == src) the last bytes go one by one. */
static inline void pe_qs8_flip_inline(uint8_t *dst, const int8_t *src, size_t len, uint8_t flip8) {
  /* the 8-byte pattern from one 32-bit multiply (a 64-bit one is a libcall-sized sequence on
     32-bit cores), built only where a word is copied: short runs (a 1-channel im2col's 3-byte
     filter rows) take the byte loop alone */
  const uint32_t flip32 = 0x01010101u * flip8;
  const uint64_t flip = ((uint64_t)flip32 << 32) | flip32;
  const size_t n = len;
  size_t i = 0;
  if (n < 4) {
    for (; i < n; ++i) dst[i] = (uint8_t)((uint8_t)src[i] ^ flip8);
    return;
  }
  if ((const void *)dst == (const void *)src) {
    for (; i + 8 <= n; i += 8) {
      uint64_t v;
      memcpy(&v, src + i, 8);
      v ^= flip;
      memcpy(dst + i, &v, 8);
    }
    for (; i < n; ++i) dst[i] = (uint8_t)((uint8_t)src[i] ^ flip8);
    return;
  }
  if (n >= 8) {
    uint64_t v;
    for (; i + 8 <= n; i += 8) {
      memcpy(&v, src + i, 8);
      v ^= flip;
      memcpy(dst + i, &v, 8);
    }
    if (i < n) {
      memcpy(&v, src + n - 8, 8);
      v ^= flip;
      memcpy(dst + n - 8, &v, 8);
    }
    return;
  }
  {
    uint32_t a, b;
    memcpy(&a, src, 4);
    memcpy(&b, src + n - 4, 4);
    a ^= flip32;
    b ^= flip32;
    memcpy(dst, &a, 4);
    memcpy(dst + n - 4, &b, 4);
  }
}

#endif
