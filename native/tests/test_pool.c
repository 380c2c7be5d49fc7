/* The thread pool (native/platform/pool.c) under many short and uneven jobs: every item of every
 * job runs exactly once, thread indices stay below the pool's count and no two items run at once
 * under the same index (per-thread scratch depends on it), and a job never returns before its
 * items are done. Prints "N passed, N failed"; exit status 1 on a failure. */
#include <stdio.h>
#include <string.h>

#include "pe_platform.h"

#define MAX_ITEMS 4096
#define MAX_THREADS 8

typedef struct {
  uint32_t runs[MAX_ITEMS];       /* times item i ran in this job */
  uint32_t in_use[MAX_THREADS];   /* items currently running under thread index t */
  uint32_t bad_thread, overlap;
  uint32_t spin;                  /* busy work per item, uneven */
  volatile uint32_t sink;
} job;

static void item(void *task, uint32_t i, uint32_t thread) {
  job *j = (job *)task;
  uint32_t k, x = i;
  if (thread >= MAX_THREADS) {
    __atomic_add_fetch(&j->bad_thread, 1u, __ATOMIC_RELAXED);
    return;
  }
  if (__atomic_add_fetch(&j->in_use[thread], 1u, __ATOMIC_ACQ_REL) != 1u)
    __atomic_add_fetch(&j->overlap, 1u, __ATOMIC_RELAXED);
  for (k = 0; k < j->spin * (1u + (i % 7u)); ++k) x = x * 1664525u + 1013904223u;
  j->sink = x;
  __atomic_add_fetch(&j->runs[i], 1u, __ATOMIC_RELAXED);
  __atomic_sub_fetch(&j->in_use[thread], 1u, __ATOMIC_ACQ_REL);
}

int main(void) {
  static job j;
  const uint32_t thread_counts[] = {1, 2, 3, 5};
  uint32_t passed = 0, failed = 0, c;
  for (c = 0; c < sizeof(thread_counts) / sizeof(thread_counts[0]); ++c) {
    pe_pool *pool = pe_pool_new(thread_counts[c]);
    uint32_t round, bad = 0;
    if (pool == NULL || pe_pool_threads(pool) != thread_counts[c]) {
      printf("FAIL pool of %u threads not created\n", thread_counts[c]);
      ++failed;
      pe_pool_free(pool);
      continue;
    }
    for (round = 0; round < 1500 && !bad; ++round) {
      /* sizes 0..~4000: single items, fewer items than threads, many small ones */
      const uint32_t n = (round * 2654435761u >> 20) % (round % 3 == 0 ? 5u : MAX_ITEMS);
      uint32_t i;
      memset(&j, 0, sizeof(j));
      j.spin = round % 4 == 0 ? 200u : 3u;
      pe_pool_parallel_for(pool, item, &j, n);
      for (i = 0; i < n; ++i)
        if (j.runs[i] != 1u) {
          printf("FAIL %u threads, round %u: item %u of %u ran %u times\n", thread_counts[c], round, i, n,
                 j.runs[i]);
          bad = 1;
          break;
        }
      for (; i < MAX_ITEMS && !bad; ++i)
        if (j.runs[i] != 0u) {
          printf("FAIL %u threads, round %u: item %u past n = %u ran\n", thread_counts[c], round, i, n);
          bad = 1;
        }
      if (j.bad_thread || j.overlap) {
        printf("FAIL %u threads, round %u: %u bad thread indices, %u overlapping items on one index\n",
               thread_counts[c], round, j.bad_thread, j.overlap);
        bad = 1;
      }
    }
    pe_pool_free(pool);
    if (bad) ++failed; else ++passed;
  }
  printf("%u passed, %u failed\n", passed, failed);
  return failed ? 1 : 0;
}
