/* A small thread pool for hosted builds (pthreads): the parallel_for hook of pe_interp.
 *
 *   pe_pool *pool = pe_pool_new(4);
 *   it.parallel_for = pe_pool_parallel_for; it.pool = pool; it.n_threads = pe_pool_threads(pool);
 *
 * The calling thread works too (thread index 0); workers spin briefly between jobs, then sleep. */
#ifndef PE_PLATFORM_H
#define PE_PLATFORM_H

#include <stdint.h>

#include "pyedge.h"

/* BEGIN CDEF */
typedef struct pe_pool pe_pool;
/* A pool of n_threads threads in all (the caller and n_threads - 1 workers); NULL on failure. */
pe_pool *pe_pool_new(uint32_t n_threads);
void pe_pool_free(pe_pool *pool);
uint32_t pe_pool_threads(const pe_pool *pool);
/* pe_parallel_for_fn: fn(task, i, thread) for every i in [0, n); returns when all are done. */
void pe_pool_parallel_for(void *pool, pe_task_fn fn, void *task, uint32_t n);
/* END CDEF */

#endif

#ifndef PE_CLOCK_H
#define PE_CLOCK_H
/* BEGIN CDEF */
/* pe_clock_fn: CLOCK_MONOTONIC in nanoseconds (user unused). */
uint64_t pe_clock_ns(void *user);
/* pe_op_timing_fn: adds ticks to ((uint64_t *)user)[op_index] (an array of n_ops counters). */
void pe_op_ticks_add(void *user, uint32_t op_index, uint64_t ticks);
/* END CDEF */
#endif
