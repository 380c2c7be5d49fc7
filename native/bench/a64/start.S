/* Bare-metal AArch64 entry for QEMU's virt machine (EL1, MMU off): stack, FP/SIMD on, main, exit
   through semihosting SYS_EXIT with main's status. */
  .section .text.start
  .global _start
_start:
  ldr x0, =__stack_top
  mov sp, x0
  mov x0, #(3 << 20)          /* CPACR_EL1.FPEN: no FP/SIMD traps */
  msr cpacr_el1, x0
  isb
  bl main
  ldr x1, =exit_block
  ldr x2, =0x20026            /* ADP_Stopped_ApplicationExit */
  str x2, [x1]
  str x0, [x1, #8]
  mov x0, #0x20               /* SYS_EXIT_EXTENDED */
  hlt #0xf000
1: b 1b
  .data
  .balign 8
exit_block: .quad 0, 0
