/* The one-input-channel depthwise driver (dwconv_dm_drivers.c) and its microkernel descriptors
 * (native/kernels.def). */
#ifndef PE_DWCONV_DM_DRIVERS_H
#define PE_DWCONV_DM_DRIVERS_H

#include "pe_kernel.h"
#include "qs8_dwconv_dm.h"

typedef struct {
  pe_qs8_dwdm_fn fn;
} pe_qs8_dwdm_ukernel;

extern const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__scalar;
#if PE_X86_KERNELS
extern const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__avx2;
extern const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__avx512;
extern const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__avx512vnni;
#endif
#if PE_NEON_KERNELS
extern const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__neon;
#endif
#if PE_ARM64_KERNELS
extern const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__neondot;
#endif
#if PE_MVE_KERNELS
extern const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__mve;
#endif

pe_status pe_depthwise_conv_2d__dm(const pe_op_ctx *ctx);
/* The packed tensor (exact size) and the planned scratch of a DWDM-layout op. */
pe_status pe_dwdm_check(const pe_op_ctx *ctx, const pe_tensor *packed, int32_t m, int32_t kh, int32_t kw,
                        int32_t out_w, int32_t stride_w, int32_t dilation_w);

#endif
