/*
 * Bare-metal platform self-test (boards/platform/): prints the board, the clock source, the
 * CPU features fixed at compile time and the clock ticks of a fixed loop, then exits with
 * PE_SELFTEST_EXIT (default 0) through semihosting. Built with -DPE_SELFTEST_FAULT=1 it
 * executes a permanently undefined instruction instead, so the fault handler must report it
 * and exit 254.
 */
#include <stdio.h>

#include "pe_platform.h"
#include "pyedge.h"

#ifndef PE_SELFTEST_EXIT
#define PE_SELFTEST_EXIT 0
#endif

static uint64_t spin(uint32_t n) {
  volatile uint32_t i;
  const uint64_t t0 = pe_plat_clock();
  for (i = 0; i < n; ++i) {
  }
  return pe_plat_clock() - t0;
}

int main(void) {
  uint32_t bit, f = pe_cpu_features();
  uint64_t prev = 0, t;
  int k, monotonic = 1;
  printf("board: %s\n", pe_plat_board());
  printf("clock: %s %lu Hz\n", pe_plat_clock_source() == PE_PLAT_CLOCK_DWT ? "dwt" : "systick",
         (unsigned long)pe_plat_clock_hz());
  printf("features:");
  for (bit = 1; bit != 0; bit <<= 1)
    if (f & bit) printf(" %s", pe_feature_name(bit) ? pe_feature_name(bit) : "?");
  printf("%s\n", f ? "" : " none (scalar only)");
  for (k = 0; k < 1000; ++k) {
    t = pe_plat_clock();
    if (t < prev) monotonic = 0;
    prev = t;
  }
  printf("monotonic: %s\n", monotonic ? "yes" : "no");
  printf("spin 100000: %lu ticks\n", (unsigned long)spin(100000u));
  printf("spin 200000: %lu ticks\n", (unsigned long)spin(200000u));
#if PE_SELFTEST_FAULT
  fflush(stdout);
  __asm__ volatile("udf #7");
#endif
  return PE_SELFTEST_EXIT;
}
