/* Placeholder: kernels of this family are not implemented yet. */
#include "elementwise.h"

pe_status pe_add_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_add__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_sub_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_sub__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_mul_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_mul__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_minimum_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_minimum__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_maximum_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_maximum__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_prelu_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_prelu__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
