/* Placeholder: kernels of this family are not implemented yet. */
#include "lstm.h"

pe_status pe_unidirectional_sequence_lstm_check(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
pe_status pe_unidirectional_sequence_lstm__scalar(const pe_op_ctx *ctx) { (void)ctx; return PE_ERR_UNSUPPORTED_OP; }
