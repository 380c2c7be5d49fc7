/* Includes the generated model header chosen at build time and names its symbols:
 * -DPE_MODEL_HEADER='"model_data.h"' (default) -DPE_MODEL_PREFIX=MODEL (pack's --name upper-cased),
 * then M(ARENA_BYTES) is MODEL_ARENA_BYTES. Shared by the C test programs in this directory. */
#ifndef PE_MODEL_SELECT_H
#define PE_MODEL_SELECT_H

#ifndef PE_MODEL_HEADER
#define PE_MODEL_HEADER "model_data.h"
#endif
#ifndef PE_MODEL_PREFIX
#define PE_MODEL_PREFIX MODEL
#endif
#include PE_MODEL_HEADER

#define PE_CAT_(a, b) a##_##b
#define PE_CAT(a, b) PE_CAT_(a, b)
#define M(x) PE_CAT(PE_MODEL_PREFIX, x)

#endif
