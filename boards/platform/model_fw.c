/*
 * A standalone firmware: one model compiled in as C (`pyedge pack --format c`), linked with only
 * the kernels it uses (`pyedge pack --op-list`, -DPE_OP_LIST), run with the C core on the board.
 * `pyedge build-firmware --board B MODEL` builds it (pyedge/host/agent_build.py). It fills the
 * inputs (pe_fw_fill_inputs: zeros unless a program defines its own, e.g. from a sensor), runs the
 * model PE_FW_RUNS times and writes on the UART:
 *
 *   pyedge firmware BOARD: model N B, arena N B, counts in cycles|instructions
 *   invoke K COUNT            the clock over one invoke
 *   out K HEX                 every output's raw bytes after invoke K, in order
 *   op I NAME VARIANT COUNT   per op, for the last invoke
 *
 * then exits 0 (semihosting under QEMU or a debugger); 1 if the core refused the model.
 */
#include <stdio.h>
#include <string.h>

#include "pe_platform.h"
#include "pyedge.h"

#include "pe_model_select.h" /* the generated model header; M(x) = <PREFIX>_x */

#ifndef PE_FW_BOARD
#define PE_FW_BOARD PE_PLAT_BOARD
#endif
#ifndef PE_FW_RUNS
#define PE_FW_RUNS 1
#endif
#define AT_LEAST_1(n) ((n) > 0 ? (n) : 1)
#define MAX_OPS 512

PE_ALIGNAS16 static uint8_t arena[AT_LEAST_1(M(ARENA_BYTES))];
static const int32_t input_index[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_INDEX_LIST);
static const uint32_t input_bytes[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_BYTES_LIST);
static const int32_t output_index[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_INDEX_LIST);
static const uint32_t output_bytes[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_BYTES_LIST);
static uint64_t op_counts[MAX_OPS];

/* Fill input k (bytes at data) before invoke `run`; a program replaces this with its own. */
void pe_fw_fill_inputs(uint32_t run, uint32_t k, uint8_t *data, uint32_t bytes) __attribute__((weak));
void pe_fw_fill_inputs(uint32_t run, uint32_t k, uint8_t *data, uint32_t bytes) {
  (void)run;
  (void)k;
  memset(data, 0, bytes);
}

static uint64_t clock_read(void *user) {
  (void)user;
#ifdef PE_FW_ICOUNT
  if (pe_plat_clock_source() == PE_PLAT_CLOCK_SYSTICK) return pe_plat_clock() * 1000000000ull / PE_PLAT_SYSTICK_HZ;
#endif
  return pe_plat_clock();
}

static void on_op(void *user, uint32_t op, uint64_t ticks) {
  (void)user;
  if (op < MAX_OPS) op_counts[op] += ticks;
}

static void put_hex(const uint8_t *p, uint32_t n) {
  static const char hex[] = "0123456789abcdef";
  uint32_t i;
  for (i = 0; i < n; ++i) {
    putchar(hex[p[i] >> 4]);
    putchar(hex[p[i] & 15u]);
  }
}

int main(void) {
  pe_model m;
  pe_interp it;
  pe_status st;
  uint32_t run, i;
  const char *unit = "cycles";

#ifdef PE_FW_ICOUNT
  if (pe_plat_clock_source() == PE_PLAT_CLOCK_SYSTICK) unit = "instructions";
#endif
  st = pe_model_init(&m, M(BLOB), M(BLOB_SIZE));
  if (st == PE_OK) st = pe_interp_init(&it, &m, arena, sizeof arena, pe_detect_features());
  if (st != PE_OK) {
    printf("pyedge firmware: model refused: %s\n", pe_status_str(st));
    return 1;
  }
  printf("pyedge firmware %s: model %lu B, arena %lu B, counts in %s\n", PE_FW_BOARD, (unsigned long)m.size,
         (unsigned long)pe_model_arena_bytes(&m), unit);
  it.clock = clock_read;
  it.on_op = on_op;
  for (run = 0; run < PE_FW_RUNS; ++run) {
    uint64_t t0, t1;
    for (i = 0; i < M(NUM_INPUTS); ++i)
      pe_fw_fill_inputs(run, i, (uint8_t *)pe_tensor_data(&it, (uint32_t)input_index[i]), input_bytes[i]);
    memset(op_counts, 0, sizeof op_counts);
    t0 = clock_read(NULL);
    st = pe_invoke(&it);
    t1 = clock_read(NULL);
    if (st != PE_OK) {
      printf("pyedge firmware: invoke %lu failed in op %ld: %s\n", (unsigned long)run, (long)it.err_op,
             pe_status_str(st));
      return 1;
    }
    printf("invoke %lu %lu\nout %lu ", (unsigned long)run, (unsigned long)(t1 - t0), (unsigned long)run);
    for (i = 0; i < M(NUM_OUTPUTS); ++i)
      put_hex((const uint8_t *)pe_tensor_data(&it, (uint32_t)output_index[i]), output_bytes[i]);
    printf("\n");
  }
  for (i = 0; i < m.hdr->n_ops && i < MAX_OPS; ++i)
    printf("op %lu %s %s %lu\n", (unsigned long)i, pe_op_name(m.ops[i].op), pe_op_variant(&it, i),
           (unsigned long)op_counts[i]);
  return 0;
}
