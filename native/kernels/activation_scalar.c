/* Placeholder: kernels of this family are not implemented yet. */
#include "activation.h"

pe_status pe_softmax_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_softmax__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_logistic_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_logistic__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_tanh_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_tanh__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_relu_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_relu__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_hard_swish_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_hard_swish__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_leaky_relu_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_leaky_relu__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_quantize_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_quantize__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_dequantize_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_dequantize__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
