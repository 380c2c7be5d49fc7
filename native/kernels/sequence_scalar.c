/* Placeholder: kernels of this family are not implemented yet. */
#include "sequence.h"

pe_status pe_svdf_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_svdf__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_read_variable_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_read_variable__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_assign_variable_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_assign_variable__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_call_once_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_call_once__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
