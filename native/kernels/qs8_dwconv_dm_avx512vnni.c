/* The AVX-512 one-input-channel depthwise row kernel with vpdpwssd (AVX-512 VNNI) in place of
 * vpmaddwd + vpaddd: qs8_dwconv_dm_avx512.c built with PE_DWDM_VNNI and the VNNI flags. */
#define PE_DWDM_VNNI 1
#include "qs8_dwconv_dm_avx512.c"
