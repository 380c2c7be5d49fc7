/* Placeholder: kernels of this family are not implemented yet. */
#include "shape.h"

pe_status pe_reshape_check(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  PE_CHECK(ctx->n_inputs >= 1 && ctx->n_outputs == 1 && in.index >= 0, PE_ERR_BAD_PARAMS);
  PE_CHECK(in.dtype == out.dtype && in.bytes == out.bytes, PE_ERR_SHAPE);
  return PE_OK;
}

pe_status pe_reshape__scalar(const pe_op_ctx *ctx) {
  pe_tensor in = pe_input(ctx, 0), out = pe_output(ctx, 0);
  if (in.data != out.data) memmove(out.data, in.data, out.bytes);
  return PE_OK;
}
pe_status pe_concatenation_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_concatenation__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_pad_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_pad__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_transpose_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_transpose__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_strided_slice_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_strided_slice__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_split_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_split__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_pack_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_pack__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_unpack_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_unpack__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_gather_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_gather__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
