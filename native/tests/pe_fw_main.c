/*
 * Minimal bare-metal firmware around a generated model header, for tools/firmware_size.py:
 * it links what a real application needs (blob, arena, core, one invoke) so that
 * arm-none-eabi-size reports the firmware-side cost. There is no vector table or clock setup;
 * Reset_Handler is the entry point.
 * Build: -DPE_MODEL_HEADER='"model_data.h"' -DPE_MODEL_PREFIX=MODEL (pack's --name upper-cased).
 */
#include <string.h>

#include "pyedge.h"

#include "pe_model_select.h" /* the generated model header; M(x) = <PREFIX>_x */

PE_ALIGNAS16 static uint8_t arena[M(ARENA_BYTES)];

/* Observable results, so that nothing is optimised away. */
volatile int32_t pe_fw_status;
volatile int32_t pe_fw_output0;

int main(void) {
  pe_model m;
  pe_interp it;
  pe_status st = pe_model_init(&m, M(BLOB), M(BLOB_SIZE));
  if (st == PE_OK) st = pe_interp_init(&it, &m, arena, sizeof arena, 0);
  if (st == PE_OK) {
    memset(pe_tensor_data(&it, M(INPUT0_INDEX)), 0, M(INPUT0_BYTES));
    st = pe_invoke(&it);
  }
  if (st == PE_OK)
    pe_fw_output0 = (int32_t)((const M(OUTPUT0_CTYPE) *)pe_tensor_data(&it, M(OUTPUT0_INDEX)))[0];
  pe_fw_status = (int32_t)st;
  return (int)st;
}

void Reset_Handler(void);
void Reset_Handler(void) {
  (void)main();
  for (;;) {
  }
}
