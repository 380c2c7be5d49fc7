/* The AVX-512 16x8 window dot products with vpdpwssd (AVX-512 VNNI) in place of vpmaddwd +
 * vpaddd: qs16_dot_avx512.c built with PE_QS16_VNNI and the VNNI flags. */
#define PE_QS16_VNNI 1
#include "qs16_dot_avx512.c"
