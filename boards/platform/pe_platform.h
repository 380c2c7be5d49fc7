/*
 * The bare-metal Cortex-M platform: what a firmware (test program, model runner, device agent)
 * needs from the board and nothing more. No vendor SDK; one implementation for every board of
 * boards/platform/, the board's facts (UART base, SysTick clock) given as -D defines by the
 * build (boards/platform/build.py). See boards/platform/README.md.
 */
#ifndef PE_PLATFORM_H
#define PE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called by the reset handler before main: UART on, clock started. */
void pe_plat_init(void);

/* Polled UART (CMSDK APB UART0): blocking write of n bytes; read of one byte, -1 if none is
   waiting (never blocks). */
void pe_plat_uart_write(const void *data, size_t n);
void pe_plat_uart_puts(const char *s);
int pe_plat_uart_getc(void);

/* The clock: a 64-bit count that never goes backwards, read as often as you like (call it at
   least once per 2^32 cycles when it is the DWT counter). pe_plat_clock_source() says what it
   counts: PE_PLAT_CLOCK_DWT, CPU cycles from DWT->CYCCNT; PE_PLAT_CLOCK_SYSTICK, SysTick ticks
   of the processor clock, pe_plat_clock_hz() a second (the fallback when CYCCNT is frozen, as
   in QEMU, where under -icount shift=0 one tick is 1e9 / pe_plat_clock_hz() instructions). */
enum { PE_PLAT_CLOCK_DWT = 1, PE_PLAT_CLOCK_SYSTICK = 2 };
uint64_t pe_plat_clock(void);
int pe_plat_clock_source(void);
uint32_t pe_plat_clock_hz(void);

/* End the program: semihosting SYS_EXIT_EXTENDED with code (0-255) under a debugger or QEMU
   (-semihosting-config enable=on); on a board without one it spins. */
void pe_plat_exit(int code) __attribute__((noreturn));

/* The board's name (PE_PLAT_BOARD at build time), for banners and handshakes. */
const char *pe_plat_board(void);

/* Small formatting helpers that need no printf (usable in fault handlers). */
void pe_plat_put_u64(uint64_t v);
void pe_plat_put_hex32(uint32_t v);

#ifdef __cplusplus
}
#endif
#endif
