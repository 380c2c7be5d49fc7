/* Drivers of the data-movement microkernels (native/kernels.def rows for TRANSPOSE). */
#ifndef PE_SHAPE_DRIVERS_H
#define PE_SHAPE_DRIVERS_H

#include "pe_kernel.h"
#include "x8_transpose.h"

extern const pe_x8_transpose_ukernel pe_uk_x8_transpose__scalar;
#if PE_X86_KERNELS
extern const pe_x8_transpose_ukernel pe_uk_x8_transpose__avx2;
extern const pe_x8_transpose_ukernel pe_uk_x8_transpose__avx512;
#endif
#if PE_NEON_KERNELS
extern const pe_x8_transpose_ukernel pe_uk_x8_transpose__neon;
#endif

/* TRANSPOSE of 1-byte elements whose output, after merging the dims that stay contiguous in
   the input, is 2-D tiles (the input contiguous along the tile's rows) or contiguous runs. */
int pe_transpose__tiles_accepts(const pe_op_ctx *ctx);
pe_status pe_transpose__tiles(const pe_op_ctx *ctx);

#endif
