/*
 * The device agent (native/agent) as Cortex-M firmware on the platform of boards/platform/: the
 * agent's bytes go over the polled CMSDK UART, its blob and arena memory are sized by the board
 * file (boards/<board>.toml [connect] blob_bytes, arena_bytes) and the per-op counts come from
 * the platform clock. Built by pyedge/host/agent_build.py (build_firmware) with these defines:
 *
 *   PE_FW_BOARD          the board's name for HELLO ("qemu-mps2-an386")
 *   PE_FW_BLOB_BYTES     blob memory; PE_FW_BLOB_ADDR places it at a fixed address (a RAM
 *                        region outside the linker script's), else it is a .noinit array
 *   PE_FW_ARENA_BYTES    arena memory (a .noinit array; the agent adds 8 bytes per op of counters)
 *   PE_FW_MAX_PAYLOAD    the largest frame payload (default 2048)
 *   PE_FW_ICOUNT         the board runs under qemu-system-arm -icount shift=0: when the clock is
 *                        SysTick, report instruction counts (1 ns of virtual time each)
 *
 * RX: the CMSDK UART holds one received byte. The loop below polls it tightly and feeds the agent
 * what arrived back to back, at most 64 bytes at a time; the agent's work per byte is constant
 * (it scans for the frame's magic and compares lengths) until a frame is complete, and a frame's
 * CRC check and command run only then, while the host sends nothing until the response is out
 * (one request at a time, docs/wire-protocol.md). Feeding 64 bytes is a copy and a few compares,
 * well inside one byte time at 115200 baud (~2,200 cycles at 25 MHz). QEMU's UART model holds
 * the sender back while its one-byte buffer is full (the TCP socket then buffers), so under QEMU
 * nothing can be lost at all.
 *
 * Memory is RAM only: a reset (or QEMU restarted) forgets the blob; the first HELLO after it finds
 * no model and LOAD answers ERR_NO_MODEL, which the host tool reports.
 */
#include <stdint.h>
#include <string.h>

#include "pe_agent.h"
#include "pe_platform.h"
#include "pyedge.h"

#ifndef PE_FW_BOARD
#define PE_FW_BOARD PE_PLAT_BOARD
#endif
#ifndef PE_FW_BLOB_BYTES
#error "PE_FW_BLOB_BYTES: the blob memory from the board file (pyedge/host/agent_build.py sets it)"
#endif
#ifndef PE_FW_ARENA_BYTES
#error "PE_FW_ARENA_BYTES: the arena memory from the board file (pyedge/host/agent_build.py sets it)"
#endif
#ifndef PE_FW_MAX_PAYLOAD
#define PE_FW_MAX_PAYLOAD 2048u
#endif
#ifndef PE_FW_IDLE_MS
/* quiet time after which a partial frame is dropped; shorter than PE_AGENT_IDLE_MS because under
   -icount a busy-polling guest's virtual time runs slower than the host's real time */
#define PE_FW_IDLE_MS 10u
#endif

#define FRAME_BYTES (PE_WIRE_HEADER + PE_FW_MAX_PAYLOAD + PE_WIRE_TRAILER)

#ifdef PE_FW_BLOB_ADDR
#define BLOB_MEM ((uint8_t *)(uintptr_t)(PE_FW_BLOB_ADDR))
#else
__attribute__((section(".noinit"), aligned(64))) static uint8_t blob_mem[PE_FW_BLOB_BYTES];
#define BLOB_MEM blob_mem
#endif
__attribute__((section(".noinit"), aligned(64))) static uint8_t arena_mem[PE_FW_ARENA_BYTES];
__attribute__((aligned(16))) static uint8_t rx_buf[FRAME_BYTES];
__attribute__((aligned(16))) static uint8_t tx_buf[FRAME_BYTES];
__attribute__((aligned(8))) static uint64_t agent_mem[1024];

static int32_t uart_write(void *user, const uint8_t *data, uint32_t n) {
  (void)user;
  pe_plat_uart_write(data, n);
  return (int32_t)n;
}

static uint64_t clock_ticks(void *user) {
  (void)user;
  return pe_plat_clock();
}

#ifdef PE_FW_ICOUNT
/* SysTick ticks -> instructions: under -icount shift=0 one instruction is 1 ns of virtual time */
static uint64_t clock_instructions(void *user) {
  (void)user;
  return pe_plat_clock() * 1000000000ull / PE_PLAT_SYSTICK_HZ;
}
#endif

int main(void) {
  pe_agent_config c;
  pe_agent *a = (pe_agent *)(void *)agent_mem;
  uint64_t idle_ticks, last = 0;
  uint32_t pending = 0;
  pe_status st;

  memset(&c, 0, sizeof c);
  c.board = PE_FW_BOARD;
  c.features = pe_detect_features();
  c.blob_mem = BLOB_MEM;
  c.blob_cap = PE_FW_BLOB_BYTES;
  c.arena_mem = arena_mem;
  c.arena_cap = PE_FW_ARENA_BYTES;
  c.rx_buf = rx_buf;
  c.tx_buf = tx_buf;
  c.max_payload = PE_FW_MAX_PAYLOAD;
  c.write = uart_write;
  c.clock = clock_ticks;
  c.clock_hz = pe_plat_clock_hz();
  c.hello_flags = PE_HELLO_RAM_ONLY;
  c.counter_kind = PE_COUNTER_CYCLES; /* DWT counts CPU cycles; SysTick, the processor clock */
#ifdef PE_FW_ICOUNT
  if (pe_plat_clock_source() == PE_PLAT_CLOCK_SYSTICK) {
    c.clock = clock_instructions;
    c.clock_hz = 1000000000u;
    c.counter_kind = PE_COUNTER_INSTRUCTIONS;
  }
#endif
  if (sizeof agent_mem < pe_agent_size()) {
    pe_plat_uart_puts("pyedge-agent: agent state does not fit its storage\n");
    return 1;
  }
  st = pe_agent_init(a, &c);
  if (st != PE_OK) {
    pe_plat_uart_puts("pyedge-agent: init failed: ");
    pe_plat_uart_puts(pe_status_str(st));
    pe_plat_uart_puts("\n");
    return 1;
  }
  idle_ticks = (uint64_t)pe_plat_clock_hz() / 1000u * PE_FW_IDLE_MS;
  for (;;) {
    uint8_t got[64];
    uint32_t n = 0, spins = 0;
    /* take what arrives back to back (a byte is read as soon as the UART holds it) */
    while (n < sizeof got && spins < 64u) {
      const int ch = pe_plat_uart_getc();
      if (ch >= 0) {
        got[n++] = (uint8_t)ch;
        spins = 0;
      } else {
        spins++;
      }
    }
    if (n > 0) {
      pe_agent_feed(a, got, n);
      pending = 1;
      last = pe_plat_clock();
    } else if (pending && pe_plat_clock() - last > idle_ticks) {
      pe_agent_idle(a); /* the link went quiet mid-frame: drop it, the host sends it again whole */
      pending = 0;
    }
  }
}
