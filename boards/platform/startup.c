/*
 * Vector table, reset handler and fault handler for every Cortex-M board of boards/platform/.
 * Reset: copy .data from its load address, zero .bss, give CP10/CP11 full access (the FPU, and
 * on Armv8.1-M also MVE/Helium), then pe_plat_init(), main(), pe_plat_exit(main's status).
 * Every fault prints the stacked PC, LR and fault status registers on the UART and exits 254.
 */
#include <stdint.h>

#include "pe_platform.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
int main(void);
void Reset_Handler(void);
void pe_plat_fault_handler(void);
void pe_plat_fault_report(const uint32_t *frame, uint32_t exc_return);
void SysTick_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)

static void default_handler(void) {
  pe_plat_uart_puts("\npe_platform: unexpected exception ");
  pe_plat_put_hex32(SCB_ICSR & 0x1FFu);
  pe_plat_uart_puts("\n");
  pe_plat_exit(253);
}

typedef void (*pe_vector)(void);

/* 16 system exceptions and the first 32 external interrupts (unused: default_handler). */
__attribute__((section(".isr_vector"), used)) const pe_vector pe_plat_vectors[16 + 32] = {
    (pe_vector)(uintptr_t)&__stack_top__,
    Reset_Handler,
    default_handler,       /* NMI */
    pe_plat_fault_handler, /* HardFault */
    pe_plat_fault_handler, /* MemManage */
    pe_plat_fault_handler, /* BusFault */
    pe_plat_fault_handler, /* UsageFault */
    pe_plat_fault_handler, /* SecureFault (Armv8-M) */
    0, 0, 0,
    default_handler,       /* SVCall */
    default_handler,       /* DebugMonitor */
    0,
    default_handler,       /* PendSV */
    SysTick_Handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler,
};

void Reset_Handler(void) {
  uint32_t *src = &__data_load__, *dst = &__data_start__;
  while (dst < &__data_end__) *dst++ = *src++;
  for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  SCB_CPACR |= (3u << 20) | (3u << 22); /* CP10, CP11: FPU and MVE, privileged and user */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  pe_plat_init();
  pe_plat_exit(main());
}

/* Pick the stack the fault frame is on (EXC_RETURN bit 2) and report from C. */
__attribute__((naked)) void pe_plat_fault_handler(void) {
  __asm__ volatile(
      "tst lr, #4\n\t"
      "ite eq\n\t"
      "mrseq r0, msp\n\t"
      "mrsne r0, psp\n\t"
      "mov r1, lr\n\t"
      "b pe_plat_fault_report\n\t");
}

void pe_plat_fault_report(const uint32_t *frame, uint32_t exc_return) {
  pe_plat_uart_puts("\npe_platform: fault: exception ");
  pe_plat_put_hex32(SCB_ICSR & 0x1FFu);
  pe_plat_uart_puts(" pc ");
  pe_plat_put_hex32(frame[6]);
  pe_plat_uart_puts(" lr ");
  pe_plat_put_hex32(frame[5]);
  pe_plat_uart_puts(" cfsr ");
  pe_plat_put_hex32(SCB_CFSR);
  pe_plat_uart_puts(" hfsr ");
  pe_plat_put_hex32(SCB_HFSR);
  pe_plat_uart_puts(" mmfar ");
  pe_plat_put_hex32(SCB_MMFAR);
  pe_plat_uart_puts(" bfar ");
  pe_plat_put_hex32(SCB_BFAR);
  pe_plat_uart_puts(" exc_return ");
  pe_plat_put_hex32(exc_return);
  pe_plat_uart_puts("\n");
  pe_plat_exit(254);
}
