/* Bare-metal 32-bit Arm (ARMv7-A, ARM state) entry for QEMU's virt machine (MMU off): stack,
   VFP/NEON on (CPACR cp10/cp11, FPEXC.EN), main, exit through semihosting SYS_EXIT_EXTENDED
   with main's status. Linked with native/bench/a64/link.ld (the same memory map). */
  .syntax unified
  .arm
  .section .text.start
  .global _start
_start:
  ldr sp, =__stack_top
  mrc p15, 0, r0, c1, c0, 2   /* CPACR: cp10, cp11 full access */
  orr r0, r0, #(0xF << 20)
  mcr p15, 0, r0, c1, c0, 2
  isb
  mov r0, #0x40000000         /* FPEXC.EN */
  vmsr fpexc, r0
  bl main
  ldr r1, =exit_block
  ldr r2, =0x20026            /* ADP_Stopped_ApplicationExit */
  str r2, [r1]
  str r0, [r1, #4]
  mov r0, #0x20               /* SYS_EXIT_EXTENDED */
  svc 0x123456
1: b 1b
  .data
  .balign 8
exit_block: .word 0, 0
