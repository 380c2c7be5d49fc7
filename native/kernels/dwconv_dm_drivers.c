/* The DEPTHWISE_CONV_2D driver for weights in PE_LAYOUT_QS8_DWDM_PAIRS (one input channel,
 * qs8_dwconv_dm.h): output rows split over threads, each thread with its slice of the planned
 * scratch. No ISA code here. */
#include <string.h>

#include "conv.h"
#include "dwconv_dm_drivers.h"

const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__scalar = {pe_qs8_dwdm_row__scalar};
#if PE_X86_KERNELS
const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__avx2 = {pe_qs8_dwdm_row__avx2};
const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__avx512 = {pe_qs8_dwdm_row__avx512};
const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__avx512vnni = {pe_qs8_dwdm_row__avx512vnni};
#endif
#if PE_NEON_KERNELS
const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__neon = {pe_qs8_dwdm_row__neon};
#endif
#if PE_ARM64_KERNELS
const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__neondot = {pe_qs8_dwdm_row__neondot};
#endif
#if PE_MVE_KERNELS
const pe_qs8_dwdm_ukernel pe_uk_qs8_dwdm_row__mve = {pe_qs8_dwdm_row__mve};
#endif

typedef struct {
  pe_qs8_dwdm_fn fn;
  pe_qs8_dwdm_args a;
  const int8_t *input;
  int8_t *out;
  uint8_t *scratch;
  uint32_t slice;
  int32_t out_h, batch_in, batch_out;
} dwdm_task;

static void dwdm_item(void *task, uint32_t item, uint32_t thread) {
  const dwdm_task *t = (const dwdm_task *)task;
  const int32_t b = (int32_t)item / t->out_h, oy = (int32_t)item % t->out_h;
  pe_qs8_dwdm_args a = t->a;
  a.input = t->input + (size_t)b * t->batch_in;
  t->fn(&a, oy, t->out + (size_t)b * t->batch_out + (size_t)oy * a.out_w * a.channels,
        t->scratch + (size_t)thread * t->slice);
}

pe_status pe_depthwise_conv_2d__dm(const pe_op_ctx *ctx) {
  const pe_conv_params *p = (const pe_conv_params *)ctx->params;
  const pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  dwdm_task t;
  memset(&t, 0, sizeof(t));
  t.fn = ((const pe_qs8_dwdm_ukernel *)ctx->variant->ukernel)->fn;
  t.a.in_h = in.dims[1];
  t.a.in_w = in.dims[2];
  t.a.out_w = out.dims[2];
  t.a.channels = out.dims[3];
  t.a.kh = p->kernel_h;
  t.a.kw = p->kernel_w;
  t.a.stride_h = p->stride_h;
  t.a.stride_w = p->stride_w;
  t.a.dilation_h = p->dilation_h;
  t.a.dilation_w = p->dilation_w;
  t.a.pad_h = p->pad_h;
  t.a.pad_w = p->pad_w;
  t.a.packed = (const int32_t *)pe_input(ctx, 1).data;
  t.a.mult = (const int32_t *)pe_input(ctx, 3).data;
  t.a.shift = (const int32_t *)pe_input(ctx, 4).data;
  t.a.input_offset = p->input_offset;
  t.a.output_offset = p->output_offset;
  t.a.act_min = p->act_min;
  t.a.act_max = p->act_max;
  t.input = (const int8_t *)in.data;
  t.out = (int8_t *)out.data;
  t.scratch = ctx->scratch;
  t.slice = pe_qs8_dwdm_scratch_bytes(t.a.out_w, t.a.kh, t.a.kw, t.a.stride_w, t.a.dilation_w, 1);
  t.out_h = out.dims[1];
  t.batch_in = t.a.in_h * t.a.in_w;
  t.batch_out = t.out_h * t.a.out_w * t.a.channels;
  if (out.dims[0] * t.out_h > 0 && t.a.out_w > 0)
    pe_parallel(ctx, dwdm_item, &t, (uint32_t)(out.dims[0] * t.out_h));
  return PE_OK;
}

/* The packed tensor and scratch of a DWDM-layout op (the op's check has validated the rest). */
pe_status pe_dwdm_check(const pe_op_ctx *ctx, const pe_tensor *packed, int32_t m, int32_t kh, int32_t kw,
                        int32_t out_w, int32_t stride_w, int32_t dilation_w) {
  const uint32_t bytes = pe_qs8_dwdm_packed_bytes(m, kh, kw);
  uint32_t scratch;
  PE_CHECK(bytes > 0 && packed->dtype == PE_INT32 && packed->rank == 1, PE_ERR_SHAPE);
  PE_CHECK(packed->bytes == bytes, PE_ERR_SHAPE);
  PE_CHECK(packed->data != NULL && ((uintptr_t)packed->data) % 4u == 0, PE_ERR_BAD_PARAMS);
  if (out_w < 1) return PE_OK; /* nothing to compute, no scratch */
  scratch = pe_qs8_dwdm_scratch_bytes(out_w, kh, kw, stride_w, dilation_w, pe_model_max_threads(ctx->m));
  PE_CHECK(scratch > 0, PE_ERR_SHAPE);
  PE_CHECK(ctx->scratch_size >= scratch, PE_ERR_CORRUPT);
  return PE_OK;
}
