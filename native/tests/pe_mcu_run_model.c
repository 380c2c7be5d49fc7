/*
 * Bare-metal model runner (boards/platform/): runs the model compiled in from a header written
 * by `pyedge pack MODEL --format c` on inputs that the host placed in memory before reset, and
 * writes outputs and clock counts on the UART.
 *
 * Build: boards/platform/build.py ... -DPE_MODEL_HEADER='"model_data.h"' -DPE_MODEL_PREFIX=MODEL
 * Inputs: the .noinit block `pe_mcu_io` (its address from the ELF's symbols), placed with
 *   qemu-system-arm ... -device loader,file=io.bin,addr=ADDR,force-raw=on
 * io.bin is: u32 magic 0x4F494550 ("PEIO"), u32 invokes, u32 bytes, u32 features_off, then `bytes`
 * of input data: one set (every model input's raw bytes in order) or one set per invoke.
 * features_off: PE_FEAT_* bits the kernels must not use (as PYEDGE_ISA caps a hosted build;
 * 0xFFFFFFFF: the scalar kernels only).
 * UART lines, one invoke after another:
 *   out K HEX          every output's raw bytes after invoke K, in order, as hex
 *   invoke K ticks T   pe_invoke's clock ticks with no per-op hook
 * then, for a model without state, one more invoke of the first set with the per-op hook:
 *   op I NAME VARIANT ticks T
 *   ops ticks T        the sum (the hook's own reads add to it)
 * and first: `clock systick|dwt HZ`, `arena N`, `blob N`. Exit 0; 1 the core refused the model
 * or an invoke failed; 2 no or bad input block.
 */
#include <stdio.h>
#include <string.h>

#include "pe_platform.h"
#include "pyedge.h"

#include "pe_model_select.h" /* the generated model header; M(x) = <PREFIX>_x */

#define AT_LEAST_1(n) ((n) > 0 ? (n) : 1)
#ifndef PE_MCU_IO_BYTES
#define PE_MCU_IO_BYTES 65536 /* room for input sets */
#endif
#define MAX_OPS 512

PE_ALIGNAS16 static uint8_t arena[AT_LEAST_1(M(ARENA_BYTES))];
static const int32_t input_index[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_INDEX_LIST);
static const uint32_t input_bytes[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_BYTES_LIST);
static const int32_t output_index[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_INDEX_LIST);
static const uint32_t output_bytes[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_BYTES_LIST);

#define IO_MAGIC 0x4F494550u
typedef struct {
  uint32_t magic, invokes, bytes, features_off;
  uint8_t data[PE_MCU_IO_BYTES];
} pe_mcu_io_block;
__attribute__((section(".noinit"), aligned(16))) volatile pe_mcu_io_block pe_mcu_io;

static uint64_t op_ticks[MAX_OPS];

static uint64_t clock_hook(void *user) {
  (void)user;
  return pe_plat_clock();
}

static void op_hook(void *user, uint32_t op, uint64_t ticks) {
  (void)user;
  if (op < MAX_OPS) op_ticks[op] += ticks;
}

static void put_hex(const uint8_t *p, uint32_t n) {
  static const char hex[] = "0123456789abcdef";
  char buf[64];
  uint32_t i, k = 0;
  for (i = 0; i < n; ++i) {
    buf[k++] = hex[p[i] >> 4];
    buf[k++] = hex[p[i] & 15u];
    if (k == sizeof buf) {
      fwrite(buf, 1, k, stdout);
      k = 0;
    }
  }
  fwrite(buf, 1, k, stdout);
}

static int set_inputs(pe_interp *it, uint32_t set) {
  uint32_t i, pos = 0, set_bytes = 0;
  for (i = 0; i < M(NUM_INPUTS); ++i) set_bytes += input_bytes[i];
  pos = set * set_bytes;
  for (i = 0; i < M(NUM_INPUTS); ++i) {
    memcpy(pe_tensor_data(it, (uint32_t)input_index[i]), (const uint8_t *)pe_mcu_io.data + pos, input_bytes[i]);
    pos += input_bytes[i];
  }
  return 0;
}

int main(void) {
  pe_model m;
  pe_interp it;
  pe_status st;
  uint32_t i, k, set_bytes = 0, sets, invokes;
  uint64_t t0, t1, sum = 0;

  printf("clock %s %lu\n", pe_plat_clock_source() == PE_PLAT_CLOCK_DWT ? "dwt" : "systick",
         (unsigned long)pe_plat_clock_hz());
  for (i = 0; i < M(NUM_INPUTS); ++i) set_bytes += input_bytes[i];
  if (pe_mcu_io.magic != IO_MAGIC) {
    printf("pe_mcu_run_model: no input block at %p (magic %08lx): place one with -device loader\n",
           (void *)&pe_mcu_io, (unsigned long)pe_mcu_io.magic);
    return 2;
  }
  invokes = pe_mcu_io.invokes;
  sets = set_bytes == 0 ? 1 : pe_mcu_io.bytes / set_bytes;
  if (invokes < 1 || pe_mcu_io.bytes != sets * set_bytes || pe_mcu_io.bytes > sizeof pe_mcu_io.data ||
      (sets != 1 && sets != invokes)) {
    printf("pe_mcu_run_model: input block holds %lu bytes for %lu invoke(s); a set is %lu bytes, room for %lu\n",
           (unsigned long)pe_mcu_io.bytes, (unsigned long)invokes, (unsigned long)set_bytes,
           (unsigned long)sizeof pe_mcu_io.data);
    return 2;
  }

  st = pe_model_init(&m, M(BLOB), M(BLOB_SIZE));
  if (st == PE_OK) st = pe_interp_init(&it, &m, arena, sizeof arena, pe_detect_features() & ~pe_mcu_io.features_off);
  if (st != PE_OK) {
    printf("pe_mcu_run_model: model refused: %s\n", pe_status_str(st));
    return 1;
  }
  printf("arena %lu\nblob %lu\n", (unsigned long)pe_model_arena_bytes(&m), (unsigned long)m.size);
  {
    uint32_t bit;
    printf("features:");
    for (bit = 1; bit != 0; bit <<= 1)
      if (it.features & bit) printf(" %s", pe_feature_name(bit) ? pe_feature_name(bit) : "?");
    printf("%s\n", it.features ? "" : " none (scalar only)");
  }

  for (k = 0; k < invokes; ++k) {
    if (k == 0 || sets > 1) set_inputs(&it, k);
    t0 = pe_plat_clock();
    st = pe_invoke(&it);
    t1 = pe_plat_clock();
    if (st != PE_OK) {
      printf("pe_mcu_run_model: invoke %lu failed in op %ld: %s\n", (unsigned long)k, (long)it.err_op,
             pe_status_str(st));
      return 1;
    }
    printf("out %lu ", (unsigned long)k);
    for (i = 0; i < M(NUM_OUTPUTS); ++i)
      put_hex((const uint8_t *)pe_tensor_data(&it, (uint32_t)output_index[i]), output_bytes[i]);
    printf("\ninvoke %lu ticks %lu\n", (unsigned long)k, (unsigned long)(t1 - t0));
  }

  if (m.state_bytes == 0 && m.hdr->n_ops <= MAX_OPS) {
    set_inputs(&it, 0);
    it.clock = clock_hook;
    it.on_op = op_hook;
    st = pe_invoke(&it);
    if (st != PE_OK) {
      printf("pe_mcu_run_model: profiled invoke failed in op %ld: %s\n", (long)it.err_op, pe_status_str(st));
      return 1;
    }
    for (i = 0; i < m.hdr->n_ops; ++i) {
      printf("op %lu %s %s ticks %lu\n", (unsigned long)i, pe_op_name(m.ops[i].op), pe_op_variant(&it, i),
             (unsigned long)op_ticks[i]);
      sum += op_ticks[i];
    }
    printf("ops ticks %lu\n", (unsigned long)sum);
  }
  return 0;
}
