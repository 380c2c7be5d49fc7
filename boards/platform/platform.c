/*
 * CMSDK APB UART (polled), the clock (DWT->CYCCNT if it runs, else SysTick) and the semihosting
 * exit, for the boards of boards/platform/. Board facts come from the build:
 *   PE_PLAT_UART_BASE   CMSDK UART0 base address
 *   PE_PLAT_SYSTICK_HZ  the processor clock SysTick counts
 *   PE_PLAT_BOARD       the board's name (a string)
 */
#include <stdint.h>

#include "pe_platform.h"

#ifndef PE_PLAT_UART_BASE
#error "PE_PLAT_UART_BASE: the board's CMSDK UART0 base address (boards/platform/build.py sets it)"
#endif
#ifndef PE_PLAT_SYSTICK_HZ
#error "PE_PLAT_SYSTICK_HZ: the board's processor clock (boards/platform/build.py sets it)"
#endif
#ifndef PE_PLAT_BOARD
#define PE_PLAT_BOARD "cortex-m"
#endif

/* CMSDK APB UART: DATA, STATE (bit 0 TX full, bit 1 RX full), CTRL (bit 0 TX on, bit 1 RX on), BAUDDIV */
#define UART_DATA (*(volatile uint32_t *)(PE_PLAT_UART_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(PE_PLAT_UART_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(PE_PLAT_UART_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(PE_PLAT_UART_BASE + 0x10u))

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)

/* SysTick's reload: the full 24 bits (one wrap interrupt per 2^24 ticks); a build may choose a
   smaller one (the platform test does, to exercise the wrap path) */
#ifdef PE_PLAT_SYSTICK_RELOAD
#define SYSTICK_RELOAD PE_PLAT_SYSTICK_RELOAD
#else
#define SYSTICK_RELOAD 0x00FFFFFFu
#endif

static int clock_source;
static volatile uint32_t systick_wraps;
static uint32_t dwt_last, dwt_high;

void SysTick_Handler(void);
void SysTick_Handler(void) { systick_wraps++; }

void pe_plat_init(void) {
  UART_BAUDDIV = 16u; /* the smallest legal divider; QEMU does not emulate the baud rate */
  UART_CTRL = 3u;
  /* DWT cycle counter: on where it exists; QEMU has none (reads 0, no fault): then SysTick */
  DEMCR |= 1u << 24; /* TRCENA */
  DWT_CYCCNT = 0;
  DWT_CTRL |= 1u;    /* CYCCNTENA */
  {
    volatile uint32_t spin;
    const uint32_t a = DWT_CYCCNT;
    for (spin = 0; spin < 64; ++spin) {
    }
    clock_source = DWT_CYCCNT != a ? PE_PLAT_CLOCK_DWT : PE_PLAT_CLOCK_SYSTICK;
  }
  if (clock_source == PE_PLAT_CLOCK_SYSTICK) {
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt on wrap, on */
    while (SYST_CVR == 0) {
      /* the first tick loads the reload value: from then on the count is monotonic */
    }
  }
}

void pe_plat_uart_write(const void *data, size_t n) {
  const uint8_t *p = (const uint8_t *)data;
  while (n--) {
    while (UART_STATE & 1u) {
    }
    UART_DATA = *p++;
  }
}

void pe_plat_uart_puts(const char *s) {
  const char *e = s;
  while (*e) ++e;
  pe_plat_uart_write(s, (size_t)(e - s));
}

int pe_plat_uart_getc(void) { return (UART_STATE & 2u) ? (int)(UART_DATA & 0xFFu) : -1; }

int pe_plat_clock_source(void) { return clock_source; }

uint32_t pe_plat_clock_hz(void) { return PE_PLAT_SYSTICK_HZ; }

uint64_t pe_plat_clock(void) {
  if (clock_source == PE_PLAT_CLOCK_DWT) {
    const uint32_t now = DWT_CYCCNT;
    if (now < dwt_last) dwt_high++;
    dwt_last = now;
    return ((uint64_t)dwt_high << 32) | now;
  }
  for (;;) {
    const uint32_t w0 = systick_wraps;
    const uint32_t v = SYST_CVR;
    const uint32_t w1 = systick_wraps;
    uint32_t w = w0;
    if (w0 != w1) continue;
    /* wrapped, but the interrupt is still pending: the count reloaded, the wrap is not counted */
    if ((SCB_ICSR & (1u << 26)) && v > SYSTICK_RELOAD / 2u) w++;
    return (uint64_t)w * (SYSTICK_RELOAD + 1u) + (SYSTICK_RELOAD - v);
  }
}

const char *pe_plat_board(void) { return PE_PLAT_BOARD; }

void pe_plat_put_u64(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0 && i > 0);
  pe_plat_uart_puts(buf + i);
}

void pe_plat_put_hex32(uint32_t v) {
  static const char hex[] = "0123456789abcdef";
  char buf[11];
  int i;
  buf[0] = '0';
  buf[1] = 'x';
  for (i = 0; i < 8; ++i) buf[2 + i] = hex[(v >> (28 - 4 * i)) & 15u];
  buf[10] = 0;
  pe_plat_uart_puts(buf);
}

/* A program's last words before exit (syscalls.c flushes stdio here); optional. */
void pe_plat_before_exit(void) __attribute__((weak));

void pe_plat_exit(int code) {
  if (pe_plat_before_exit) pe_plat_before_exit();
  /* SYS_EXIT_EXTENDED (0x20): r1 -> {ADP_Stopped_ApplicationExit, code} */
  static volatile uint32_t block[2];
  block[0] = 0x20026u;
  block[1] = (uint32_t)code & 0xFFu;
  {
    register uint32_t r0 __asm__("r0") = 0x20u;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  }
  for (;;) {
  }
}
