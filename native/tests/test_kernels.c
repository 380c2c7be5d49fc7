/* C kernel test: every microkernel against its scalar twin, over tile-breaking shapes, with a
 * canary after every output. Prints "N passed, N failed, N skipped" and exits non-zero on a
 * failure. Runs natively, under qemu-user and bare metal (no file I/O, no malloc). */
#include <stdio.h>

#include "kt.h"
#include "pyedge.h"

void kt_check(kt_state *s, int ok, const char *what, const char *detail) {
  if (ok) {
    s->passed++;
    return;
  }
  s->failed++;
  if (s->failed <= 20) printf("FAIL %s: %s\n", what, detail);
}

void kt_skip(kt_state *s, const char *variant, const char *missing_feature) {
  s->skipped++;
  printf("skipped %s: needs %s (not in this run's features: CPU or PYEDGE_ISA)\n", variant, missing_feature);
}

int main(void) {
  kt_state s = {0, 0, 0, 0, 0x9E3779B9u};
  uint32_t bit;
  s.features = pe_detect_features();
  printf("features:");
  for (bit = 1; bit != 0; bit <<= 1)
    if (s.features & bit) printf(" %s", pe_feature_name(bit) ? pe_feature_name(bit) : "?");
  printf("%s\n", s.features ? "" : " none (scalar only)");
  kt_gemm(&s);
  kt_dwconv(&s);
  kt_dwconv_dm(&s);
  kt_vadd(&s);
  kt_prelu(&s);
  kt_requant(&s);
  kt_int4(&s);
  kt_dot(&s);
  kt_qs16(&s);
  kt_shape(&s);
  printf("%ld passed, %ld failed, %ld skipped\n", s.passed, s.failed, s.skipped);
  return s.failed == 0 ? 0 : 1;
}
