/* Drivers of the row dot-product microkernels (native/kernels.def rows for SVDF). */
#ifndef PE_SEQUENCE_DRIVERS_H
#define PE_SEQUENCE_DRIVERS_H

#include "pe_kernel.h"
#include "qs8_dot.h"

extern const pe_qs8_dot_ukernel pe_uk_qs8_dot__scalar;
#if PE_X86_KERNELS
extern const pe_qs8_dot_ukernel pe_uk_qs8_dot__avx2;
extern const pe_qs8_dot_ukernel pe_uk_qs8_dot__avx512;
#endif

/* Integer SVDF (the check in sequence_scalar.c) with the variant's dot-product microkernels. */
pe_status pe_svdf__dot(const pe_op_ctx *ctx);

#endif
