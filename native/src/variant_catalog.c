/* Every row of the variant table (native/kernels.def) of every architecture, without its
 * kernels: the (op, variant, features, layout) facts the packer needs to choose the packed
 * weight layouts of a target other than the CPU it runs on (`pyedge pack --target rpi4` on an
 * x86 machine: the Pi's NEON kernels read the GEMM layout, so its ops get it). The runtime's own
 * table (ops.c) keeps only the kernels this build compiled. Each PE_*_KERNELS switch that
 * kernels.def tests is forced on here; tests/test_blob.py checks that none is missed. */
#include "ops.h"
#include "pe_kernel.h"

#undef PE_X86_KERNELS
#undef PE_ARM64_KERNELS
#undef PE_ARMV7_NEON_KERNELS
#undef PE_NEON_KERNELS
#define PE_X86_KERNELS 1
#define PE_ARM64_KERNELS 1
#define PE_ARMV7_NEON_KERNELS 1
#define PE_NEON_KERNELS 1
#undef PE_DSP_KERNELS
#undef PE_MVE_KERNELS
#define PE_DSP_KERNELS 1
#define PE_MVE_KERNELS 1
#undef PE_INT16_KERNELS
#define PE_INT16_KERNELS 1
/* the NEON GEMM's name differs between AArch64 (2x16c4) and ARMv7 (1x16c4); both read one layout */
#undef PE_GEMM_NEON_NAME
#define PE_GEMM_NEON_NAME "gemm_2x16c4__neon"

typedef struct {
  uint32_t op;
  const char *name;
  uint32_t features;
  uint32_t layout;
} pe_catalog_row;

#define PE_VARIANT(NAME, variant, feats, layout, eval, accepts, uk) {PE_OP_CODE_##NAME, variant, feats, layout},
static const pe_catalog_row catalog[] = {
#include "../kernels.def"
    {0, NULL, 0, 0}};
#undef PE_VARIANT

uint32_t pe_variant_catalog_count(void) { return (uint32_t)(sizeof(catalog) / sizeof(catalog[0]) - 1u); }

const char *pe_variant_catalog_info(uint32_t i, uint32_t *op, uint32_t *features, uint32_t *layout) {
  if (i >= pe_variant_catalog_count()) return NULL;
  if (op != NULL) *op = catalog[i].op;
  if (features != NULL) *features = catalog[i].features;
  if (layout != NULL) *layout = catalog[i].layout;
  return catalog[i].name;
}
