/* What the bare-metal AArch64 bench programs (icount_*.c, one translation unit each) need
 * without a C library: memset/memcpy for the compiler and the core, the PL011 UART of QEMU's
 * virt machine, and CNTVCT_EL0, which under -icount shift=0 advances once every 16 instructions. */
#ifndef PE_A64_SUPPORT_H
#define PE_A64_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

void *memset(void *d, int v, size_t n) {
  unsigned char *p = (unsigned char *)d;
  while (n--) *p++ = (unsigned char)v;
  return d;
}
void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *p = (unsigned char *)d;
  const unsigned char *q = (const unsigned char *)s;
  while (n--) *p++ = *q++;
  return d;
}

static void putc_(char c) { *(volatile uint32_t *)0x09000000u = (uint32_t)c; }
static void puts_(const char *s) {
  while (*s) putc_(*s++);
}
static void putu(uint64_t v) {
  char b[24];
  int n = 0;
  do b[n++] = (char)('0' + v % 10); while (v /= 10);
  while (n) putc_(b[--n]);
}

static uint64_t cntvct(void) {
  uint64_t t;
#if defined(__aarch64__)
  __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(t));
#else /* 32-bit Arm (native/bench/a32/start.S): CNTVCT through CP15 */
  __asm__ volatile("isb; mrrc p15, 1, %Q0, %R0, c14" : "=r"(t));
#endif
  return t;
}

#endif
