/* Instructions per inference of a whole model on each AArch64 kernel path, bare metal under
 * `qemu-system-aarch64 -M virt -icount shift=0`, where CNTVCT_EL0 advances once every 16
 * instructions: counts of instructions, not cycles, identical run after run.
 *
 * The model is linked in from a header written by `pyedge pack --format c` (PE_MODEL_HEADER,
 * PE_MODEL_PREFIX as for native/tests/pe_run_model.c), its input from PE_INPUT_HEADER
 * (`static const uint8_t pe_bench_input[]`: every input's bytes in order). Each path the CPU model
 * has (PE_PATHS: scalar, neon, neon+dot, neon+dot+i8mm, capped by the ID registers) runs one
 * warm-up invoke and one counted invoke with per-op counts from the core's timing hook, and
 * prints over the PL011 UART:
 *   path <name> features <mask> instructions <n>
 *   op <index> <instructions>
 *   out <hex bytes of every output>
 * Built and run by tools/arm_icount.py --models. */
#include <stddef.h>
#include <stdint.h>

#include "a64_support.h"
#include "pyedge.h"

#include "pe_model_select.h" /* M(x) = <PREFIX>_x */
#include PE_INPUT_HEADER

/* ---------------------------------------------------------------- what the core needs besides a64_support.h */

void *memmove(void *d, const void *s, size_t n) {
  unsigned char *p = (unsigned char *)d;
  const unsigned char *q = (const unsigned char *)s;
  if (p < q) {
    while (n--) *p++ = *q++;
  } else {
    while (n--) p[n] = q[n];
  }
  return d;
}
int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) ++a, ++b;
  return (unsigned char)*a - (unsigned char)*b;
}
size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}
/* roundf for |x| < 2^23 (larger floats are integers): half away from zero, as C's */
float roundf(float x) {
  float t, d;
  if (!(x == x) || x >= 8388608.0f || x <= -8388608.0f) return x;
  t = (float)(int32_t)x; /* toward zero */
  d = x - t;             /* exact */
  if (d >= 0.5f) t += 1.0f;
  if (d <= -0.5f) t -= 1.0f;
  return t;
}
char *getenv(const char *name) {
  (void)name;
  return NULL; /* no PYEDGE_ISA: the paths below choose the features */
}
/* AT_HWCAP / AT_HWCAP2 bits the core reads (cpu.c), from the ID registers */
#if defined(__aarch64__)
unsigned long getauxval(unsigned long type) {
  uint64_t isar0, isar1;
  __asm__ volatile("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
  __asm__ volatile("mrs %0, id_aa64isar1_el1" : "=r"(isar1));
  if (type == 16) return ((isar0 >> 44) & 0xF) >= 1 ? 1ul << 20 : 0ul; /* AT_HWCAP: ASIMDDP */
  if (type == 26) return ((isar1 >> 52) & 0xF) >= 1 ? 1ul << 13 : 0ul; /* AT_HWCAP2: I8MM */
  return 0;
}
#else
/* libgcc's integer division by zero (__aeabi_idiv0) raises SIGFPE; nothing divides by zero here */
int raise(int sig) {
  (void)sig;
  for (;;) {
  }
}
/* 32-bit Arm (ARMv7-A): HWCAP_NEON, as Linux reports for a core with Advanced SIMD (MVFR1.SIMDSP) */
unsigned long getauxval(unsigned long type) {
  uint32_t mvfr1;
  __asm__ volatile("vmrs %0, mvfr1" : "=r"(mvfr1));
  if (type == 16) return ((mvfr1 >> 16) & 0xF) >= 1 ? 1ul << 12 : 0ul; /* AT_HWCAP: HWCAP_NEON */
  return 0;
}
#endif

static void puthex(const uint8_t *p, uint32_t n) {
  static const char hex[] = "0123456789abcdef";
  uint32_t i;
  for (i = 0; i < n; ++i) {
    putc_(hex[p[i] >> 4]);
    putc_(hex[p[i] & 15]);
  }
}

static uint64_t ticks(void *user) {
  (void)user;
  return cntvct();
}

/* ---------------------------------------------------------------- the model */

#define AT_LEAST_1(n) ((n) > 0 ? (n) : 1)
PE_ALIGNAS16 static uint8_t arena[AT_LEAST_1(M(ARENA_BYTES))];
static const int32_t input_index[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_INDEX_LIST);
static const uint32_t input_bytes[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_BYTES_LIST);
static const int32_t output_index[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_INDEX_LIST);
static const uint32_t output_bytes[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_BYTES_LIST);

#define MAX_OPS 4096
static uint64_t op_ticks[MAX_OPS];
static void on_op(void *user, uint32_t op, uint64_t t) {
  (void)user;
  if (op < MAX_OPS) op_ticks[op] += t;
}

static int run_path(const pe_model *m, const char *name, uint32_t features) {
  pe_interp it;
  uint64_t t0, t1;
  uint32_t i, off = 0, n_ops = m->hdr->n_ops;
  pe_status st = pe_interp_init(&it, m, arena, sizeof arena, features);
  if (st != PE_OK) {
    puts_("FAIL init ");
    puts_(name);
    putc_('\n');
    return 1;
  }
  it.clock = ticks;
  for (i = 0; i < M(NUM_INPUTS); ++i) {
    memcpy(pe_tensor_data(&it, input_index[i]), pe_bench_input + off, input_bytes[i]);
    off += input_bytes[i];
  }
  st = pe_invoke(&it); /* warm-up: the same count either way under -icount */
  for (i = 0; i < MAX_OPS; ++i) op_ticks[i] = 0;
  it.on_op = on_op;
  t0 = ticks(NULL);
  if (st == PE_OK) st = pe_invoke(&it);
  t1 = ticks(NULL);
  if (st != PE_OK) {
    puts_("FAIL invoke ");
    puts_(name);
    putc_('\n');
    return 1;
  }
  puts_("path ");
  puts_(name);
  puts_(" features ");
  putu(features);
  puts_(" instructions ");
  putu((t1 - t0) * 16u);
  putc_('\n');
  for (i = 0; i < n_ops && i < MAX_OPS; ++i) {
    puts_("op ");
    putu(i);
    putc_(' ');
    putu(op_ticks[i] * 16u);
    putc_('\n');
  }
  puts_("out ");
  for (i = 0; i < M(NUM_OUTPUTS); ++i)
    puthex((const uint8_t *)pe_tensor_data(&it, output_index[i]), output_bytes[i]);
  putc_('\n');
  return 0;
}

int main(void) {
  static pe_model m;
  const uint32_t have = pe_cpu_features();
  int bad = 0;
  if (pe_model_init(&m, M(BLOB), M(BLOB_SIZE)) != PE_OK) {
    puts_("FAIL model\n");
    return 1;
  }
  bad |= run_path(&m, "scalar", 0);
  bad |= run_path(&m, "neon", PE_FEAT_NEON);
  if (have & PE_FEAT_DOTPROD) bad |= run_path(&m, "neondot", PE_FEAT_NEON | PE_FEAT_DOTPROD);
  if (have & PE_FEAT_I8MM) bad |= run_path(&m, "neoni8mm", PE_FEAT_NEON | PE_FEAT_DOTPROD | PE_FEAT_I8MM);
  return bad;
}
