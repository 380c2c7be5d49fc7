/* The AVX-512 depthwise row kernel with vpdpwssd (AVX-512 VNNI) in place of vpmaddwd + vpaddd:
 * qs8_dwconv_avx512.c built with PE_DW_VNNI and the VNNI flags. */
#define PE_DW_VNNI 1
#include "qs8_dwconv_avx512.c"
