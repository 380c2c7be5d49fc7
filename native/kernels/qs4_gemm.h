/* int4-weight GEMM microkernels and their packed layout (PE_LAYOUT_QS4_GEMM_N16K8).
 *
 * The arithmetic, the activation panel (x ^ 0x80, kp = round_up(k, 4) bytes a row), the init
 * terms and the driver are those of the int8 GEMM (qs8_gemm.h, gemm_drivers.c); only the weights
 * differ: int4 values in [-8, 7], two to a byte, read straight from the packed nibbles (never
 * unpacked into memory): each kernel widens them in registers.
 *
 * Packed layout for oc channels and k inputs, ocp = round_up(oc, 16), kp8 = round_up(k, 8):
 *   int32 init[ocp], wsum[ocp], mult[ocp], shift[ocp]   as qs8_gemm.h
 *   uint8 w[ocp / 16][kp8 / 8][64]   block b, k-pair p: byte n * 4 + j holds
 *         W[16 b + n][8 p + j] in its low nibble and W[16 b + n][8 p + 4 + j] in its high one
 * i.e. the low nibbles of a 64-byte row are the int8 layout's k-group 2p, the high nibbles its
 * k-group 2p + 1, so a kernel turns one 64-byte load into two of the int8 kernel's weight
 * vectors with a shift, a mask and a sign extension ((v ^ 8) - 8). Weights past k are 0; when
 * kp is not a multiple of 8 the last high nibbles are 0 and the kernels read no panel byte
 * past kp. A block's weights are kp8 * 8 bytes.
 */
#ifndef PE_QS4_GEMM_H
#define PE_QS4_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "qs8_gemm.h"

/* BEGIN CDEF */
/* Bytes of the int4 GEMM layout for oc channels and k inputs (0 if either is < 1). */
uint32_t pe_qs4_gemm_packed_bytes(int32_t oc, int32_t k);
/* Pack W [oc][k] (int8 values in [-8, 7], row stride k), bias [oc] (NULL: 0), mult/shift [oc]
   into out (pe_qs4_gemm_packed_bytes(oc, k) bytes). Returns 0, or -1 if a value is outside
   [-8, 7] (out is then unspecified). */
int pe_qs4_gemm_pack(int32_t oc, int32_t k, const int8_t *w, const int32_t *bias,
                     const int32_t *mult, const int32_t *shift, int32_t input_offset, void *out);
/* END CDEF */

/* Weight bytes of one 16-channel block for a panel depth of kp (a multiple of 4). */
static inline size_t pe_qs4_gemm_block_bytes(size_t kp) { return (kp + 7u) / 8u * 64u; }

/* The contract of pe_qs8_gemm_fn, with w the block's pe_qs4_gemm_block_bytes(kp) nibble bytes. */
void pe_qs4_gemm_1x16c8__scalar(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                const int8_t *w, const int32_t *init, const int32_t *mult,
                                const int32_t *shift, int32_t output_offset, int32_t act_min,
                                int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd);
void pe_qs4_gemm_4x16c8__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd);
void pe_qs4_gemm_1x16c8__avx2(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd);
void pe_qs4_gemm_1x16c8__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd);
void pe_qs4_gemm_8x16c8__avx512vnni(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                    const int8_t *w, const int32_t *init, const int32_t *mult,
                                    const int32_t *shift, int32_t output_offset, int32_t act_min,
                                    int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd);
void pe_qs4_gemm_2x16c8__neon(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd);

#endif
