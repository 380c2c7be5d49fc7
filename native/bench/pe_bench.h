/* Benchmark support for hosted builds (`pyedge bench`): not part of the core. */
#ifndef PE_BENCH_H
#define PE_BENCH_H

#include "pyedge.h"

/* BEGIN CDEF */
/* Register-only multiply-accumulate loops, one instruction kind each: returns the MACs done in
   `iters` iterations (0: this CPU or build cannot run that kind). The caller times it. */
#define PE_PEAK_VPMADDWD_YMM 1
#define PE_PEAK_VPMADDWD_ZMM 2
#define PE_PEAK_VPDPBUSD_ZMM 3
uint64_t pe_bench_peak_loop(uint32_t kind, uint64_t iters);
/* END CDEF */

#endif
