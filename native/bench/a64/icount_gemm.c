/* Instructions per int8 GEMM on each AArch64 microkernel path, bare metal under
 * `qemu-system-aarch64 -M virt -icount shift=0`, where CNTVCT_EL0 advances once every 16
 * instructions (CNTFRQ 62.5 MHz, 1 ns per instruction): counts of instructions, not cycles.
 * One conv-like GEMM (ROWS x OC x K) runs through each microkernel the CPU has (ID registers)
 * and its output is compared with the scalar twin's. Prints one line per path:
 *   gemm <name> rows <r> oc <n> k <k> macs <m> instructions <i> macs_per_instruction <x>
 * Built by tools/arm_icount.py. */
#include <stddef.h>
#include <stdint.h>

#include "a64_support.h"
#include "qs8_gemm.h"

#define ROWS 64
#define OC 64
#define K 576 /* 3x3x64 */

static int8_t w_[OC * K];
static int32_t bias_[OC], mult_[OC], shift_[OC];
static uint8_t packed_[16 * OC + OC * K] __attribute__((aligned(16)));
static uint8_t panel_[ROWS * K] __attribute__((aligned(16)));
static int8_t ref_[ROWS * OC], out_[ROWS * OC];

static uint32_t seed = 0x9E3779B9u;
static uint32_t rnd(void) {
  seed ^= seed << 13;
  seed ^= seed >> 17;
  seed ^= seed << 5;
  return seed;
}

static void gemm(pe_qs8_gemm_fn fn, size_t mr, int8_t *out) {
  const int32_t *init = (const int32_t *)packed_, *m = init + 2 * OC, *s = m + OC;
  const int8_t *w = (const int8_t *)(packed_ + 16 * OC);
  size_t r0, b;
  for (r0 = 0; r0 < ROWS; r0 += mr)
    for (b = 0; b < OC / 16; ++b)
      fn(ROWS - r0 < mr ? ROWS - r0 : mr, 16, K, panel_ + r0 * K, K, w + b * K * 16, init + 16 * b, m + 16 * b,
         s + 16 * b, -3, -128, 127, out + r0 * OC + 16 * b, OC, NULL);
}

static int run(const char *name, pe_qs8_gemm_fn fn, size_t mr, int8_t *out) {
  uint64_t t0, t1, instr;
  const uint64_t macs = (uint64_t)ROWS * OC * K;
  size_t i;
  gemm(fn, mr, out); /* warm: same count either way under -icount; keeps the two runs alike */
  t0 = cntvct();
  gemm(fn, mr, out);
  t1 = cntvct();
  instr = (t1 - t0) * 16u;
  puts_("gemm ");
  puts_(name);
  puts_(" rows ");
  putu(ROWS);
  puts_(" oc ");
  putu(OC);
  puts_(" k ");
  putu(K);
  puts_(" macs ");
  putu(macs);
  puts_(" instructions ");
  putu(instr);
  puts_(" macs_per_instruction ");
  putu(macs * 100 / (instr ? instr : 1) / 100);
  putc_('.');
  {
    const uint64_t f = macs * 100 / (instr ? instr : 1) % 100;
    putc_((char)('0' + f / 10));
    putc_((char)('0' + f % 10));
  }
  putc_('\n');
  if (out == ref_) return 0;
  for (i = 0; i < ROWS * OC; ++i)
    if (out[i] != ref_[i]) {
      puts_("FAIL ");
      puts_(name);
      puts_(": differs from the scalar twin\n");
      return 1;
    }
  return 0;
}

int main(void) {
  uint64_t isar0, isar1;
  int i, bad = 0;
  __asm__ volatile("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
  __asm__ volatile("mrs %0, id_aa64isar1_el1" : "=r"(isar1));
  for (i = 0; i < OC * K; ++i) w_[i] = (int8_t)rnd();
  for (i = 0; i < OC; ++i) {
    bias_[i] = (int32_t)(rnd() % 20000) - 10000;
    mult_[i] = (int32_t)(0x40000000u + rnd() % 0x40000000u);
    shift_[i] = -8 - (int32_t)(rnd() % 4);
  }
  for (i = 0; i < ROWS * K; ++i) panel_[i] = (uint8_t)rnd();
  pe_qs8_gemm_pack(OC, K, w_, bias_, mult_, shift_, 5, packed_);
  bad |= run("gemm_1x16c4__scalar", pe_qs8_gemm_1x16c4__scalar, 1, ref_);
  bad |= run("gemm_2x16c4__neon", pe_qs8_gemm_2x16c4__neon, 2, out_);
  if (((isar0 >> 44) & 0xF) >= 1) bad |= run("gemm_4x16c4__neondot", pe_qs8_gemm_4x16c4__neondot, 4, out_);
  if (((isar1 >> 52) & 0xF) >= 1) bad |= run("gemm_4x16c4__neoni8mm", pe_qs8_gemm_4x16c4__neoni8mm, 4, out_);
  return bad;
}
