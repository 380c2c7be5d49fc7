/* A monotonic clock and a per-op tick accumulator for pe_interp's timing hook (hosted builds). */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "pe_platform.h"

uint64_t pe_clock_ns(void *user) {
  struct timespec ts;
  (void)user;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pe_op_ticks_add(void *user, uint32_t op_index, uint64_t ticks) { ((uint64_t *)user)[op_index] += ticks; }
