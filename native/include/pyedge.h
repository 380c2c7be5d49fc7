/*
 * pyedge: portable int8 inference core.
 *
 * The core executes a pyedge blob (see docs/blob-format.md): a flat, aligned,
 * little-endian, checksummed image of a model with its memory planned ahead.
 * It performs no allocation, holds no mutable global state and does no I/O:
 * the caller hands it the blob (read-only, may live in flash or an mmap) and
 * one writable arena.
 *
 * Typical use:
 *   pe_model m;   pe_model_init(&m, blob, blob_size);
 *   pe_interp it; pe_interp_init(&it, &m, arena, pe_model_arena_bytes(&m), pe_detect_features());
 *   memcpy(pe_tensor_data(&it, input_index), input, input_bytes);
 *   pe_invoke(&it);
 */
#ifndef PYEDGE_H
#define PYEDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN CDEF */
typedef enum {
  PE_OK = 0,
  PE_ERR_TRUNCATED = 1,       /* blob shorter than its header or sections say */
  PE_ERR_BAD_MAGIC = 2,       /* not a pyedge blob */
  PE_ERR_VERSION = 3,         /* blob format version not supported by this core */
  PE_ERR_CHECKSUM = 4,        /* CRC-32 mismatch: blob is corrupt */
  PE_ERR_CORRUPT = 5,         /* a field is out of range (offset, size, count, index) */
  PE_ERR_ALIGNMENT = 6,       /* blob or arena not aligned to PE_ALIGN */
  PE_ERR_UNSUPPORTED_OP = 7,  /* op code unknown to this core */
  PE_ERR_BAD_PARAMS = 8,      /* op parameters invalid (size or value) */
  PE_ERR_SHAPE = 9,           /* tensor shapes/dtypes inconsistent with the op */
  PE_ERR_ARENA_TOO_SMALL = 10,/* arena smaller than the blob's planned size */
  PE_ERR_LAYOUT = 11,         /* weights packed for another target layout */
  PE_ERR_RUNTIME = 12,        /* data-dependent failure (e.g. gather index out of range) */
  PE_ERR_STATE = 13,          /* API misuse (interp not initialised, ...) */
  PE_ERR_ISA = 14             /* requested ISA level not available on this CPU */
} pe_status;

/* CPU features, a bit set (pe_cpu_features). A kernel variant runs where all the features it
   requires are present; 0 (scalar C) runs everywhere. */
enum {
  PE_FEAT_AVX2 = 1u << 0,       /* AVX2 + FMA, OS saves ymm */
  PE_FEAT_AVX512 = 1u << 1,     /* AVX-512 F, BW, DQ, VL, OS saves zmm */
  PE_FEAT_AVX512VNNI = 1u << 2, /* AVX-512 VNNI (vpdpbusd zmm) */
  PE_FEAT_AVXVNNI = 1u << 3,    /* AVX-VNNI (vpdpbusd ymm, VEX) */
  PE_FEAT_NEON = 1u << 8,       /* Advanced SIMD (AArch64 always; ARMv7 HWCAP_NEON) */
  PE_FEAT_DOTPROD = 1u << 9,    /* sdot/udot (Armv8.2 DotProd) */
  PE_FEAT_I8MM = 1u << 10,      /* smmla/usdot (Armv8.6 I8MM) */
  PE_FEAT_DSP = 1u << 16,       /* Cortex-M DSP extension (SMLAD) */
  PE_FEAT_MVE = 1u << 17        /* Cortex-M Helium (M-profile vector extension) */
};

/* Tensor element types: the numbering is TFLite's TensorType. */
typedef enum {
  PE_FLOAT32 = 0,
  PE_INT32 = 2,
  PE_UINT8 = 3,
  PE_INT64 = 4,
  PE_BOOL = 6,
  PE_INT16 = 7,
  PE_INT8 = 9,
  PE_RESOURCE = 13
} pe_dtype;

/* Where a tensor's bytes live. */
typedef enum {
  PE_STORE_NONE = 0,   /* no data (absent optional input, resource handle) */
  PE_STORE_CONST = 1,  /* blob constant section, read-only */
  PE_STORE_ARENA = 2,  /* planned activation region of the arena */
  PE_STORE_STATE = 3   /* persistent region of the arena (variables), kept across invokes */
} pe_storage;

/* ---- on-disk records (little-endian; sizes fixed by static_assert) ---- */

enum {
  PE_SEC_TENSORS = 0,   /* pe_tensor_rec[n_tensors] */
  PE_SEC_OPS = 1,       /* pe_op_rec[n_ops] */
  PE_SEC_SUBGRAPHS = 2, /* pe_subgraph_rec[n_subgraphs] */
  PE_SEC_INDICES = 3,   /* int32 tensor indices referenced by ops and subgraphs */
  PE_SEC_PARAMS = 4,    /* op parameter structs, each 4-byte aligned */
  PE_SEC_QUANT = 5,     /* per-channel quantization records */
  PE_SEC_CONST = 6,     /* constant tensor data, each PE_ALIGN-aligned */
  PE_SEC_META = 7,      /* names and signatures (UTF-8 JSON); ignored by the core */
  PE_SEC_COUNT = 8
};

typedef struct {
  uint32_t offset; /* from the start of the blob */
  uint32_t size;   /* bytes */
} pe_section;

typedef struct {
  uint32_t magic;         /* PE_MAGIC */
  uint16_t version_major; /* PE_VERSION_MAJOR: incompatible changes */
  uint16_t version_minor; /* compatible additions */
  uint32_t header_size;   /* sizeof(pe_header) */
  uint32_t total_size;    /* whole blob in bytes */
  uint32_t checksum;      /* CRC-32 (zlib) of the whole blob with this field zeroed */
  uint32_t flags;         /* reserved, 0 */
  uint32_t target_features; /* PE_FEAT_* the packer chose layouts for (informational) */
  uint32_t alignment;     /* PE_ALIGN */
  uint32_t arena_size;    /* bytes of planned activations + scratch */
  uint32_t state_size;    /* bytes of persistent state (placed first in the arena) */
  uint32_t n_tensors;
  uint32_t n_ops;
  uint32_t n_subgraphs;
  uint32_t threads;       /* threads the per-thread scratch was planned for (0 is 1) */
  uint32_t reserved[2];
  pe_section sections[8]; /* indexed by PE_SEC_* */
} pe_header;              /* 128 bytes */

typedef struct {
  uint8_t dtype;      /* pe_dtype */
  uint8_t rank;       /* 0..PE_MAX_RANK */
  uint8_t storage;    /* pe_storage */
  uint8_t flags;      /* PE_TF_* */
  int32_t dims[6];    /* PE_MAX_RANK; unused trailing dims are 1 */
  uint32_t offset;    /* CONST: from const section start; ARENA/STATE: from region start */
  uint32_t bytes;     /* product(dims) * element size */
  float scale;        /* per-tensor scale (first channel's if per-channel), 0 if unquantized */
  int32_t zero_point; /* per-tensor zero point */
  uint32_t quant;     /* offset into the quant section, or PE_NONE */
} pe_tensor_rec;      /* 48 bytes */

typedef struct {
  uint16_t op;          /* pe op code (native/ops.def) */
  uint16_t version;     /* TFLite op version it was lowered from (informational) */
  uint16_t n_inputs;
  uint16_t n_outputs;
  uint32_t io;          /* first index into the indices section: inputs then outputs */
  uint32_t params;      /* offset into the params section */
  uint32_t params_size; /* bytes; must equal the op's params struct size */
  uint32_t scratch;     /* offset in the activation region */
  uint32_t scratch_size;
  uint32_t src_index;   /* operator index in the source model's subgraph */
  uint32_t layout;      /* packed weight layout of this op (PE_LAYOUT_*; 0: TFLite's own) */
  uint32_t reserved;    /* 0 */
} pe_op_rec;            /* 40 bytes */

typedef struct {
  uint32_t first_op;
  uint32_t n_ops;
  uint32_t inputs;   /* first index into the indices section */
  uint32_t n_inputs;
  uint32_t outputs;  /* first index into the indices section */
  uint32_t n_outputs;
  uint32_t reserved[2];
} pe_subgraph_rec;   /* 32 bytes */

/* Per-channel quantization record in the quant section:
   int32 count, int32 axis, float scales[count], int32 zero_points[count]. */

/* ---- run-time objects (caller-allocated) ---- */

typedef struct {
  const uint8_t *blob;
  uint32_t size;
  const pe_header *hdr;
  const pe_tensor_rec *tensors;
  const pe_op_rec *ops;
  const pe_subgraph_rec *subgraphs;
  const int32_t *indices;
  uint32_t n_indices;
  const uint8_t *params;
  uint32_t params_size;
  const uint8_t *quant;
  uint32_t quant_size;
  const uint8_t *consts;
  uint32_t consts_size;
  uint32_t state_bytes; /* state_size rounded up to PE_ALIGN */
} pe_model;

/* Hooks the caller may set after pe_interp_init (all optional; the core has no threads and no
   clock of its own). parallel_for runs fn(task, i) for every i in [0, n), on any threads, and
   returns when all have run, passing each call the index in [0, n_threads) of the thread that
   runs it; n_threads says how many run at once (per-thread scratch was planned
   for the blob's thread count, so n_threads above it is capped). clock returns ticks of any unit;
   on_op then receives each op's ticks after it ran. */
typedef void (*pe_task_fn)(void *task, uint32_t i, uint32_t thread);
typedef void (*pe_parallel_for_fn)(void *pool, pe_task_fn fn, void *task, uint32_t n);
typedef uint64_t (*pe_clock_fn)(void *user);
typedef void (*pe_op_timing_fn)(void *user, uint32_t op_index, uint64_t ticks);

typedef struct {
  const pe_model *model;
  uint8_t *arena;        /* state region, then activation region */
  uint32_t arena_size;
  uint32_t features;     /* PE_FEAT_* the kernels may use (a subset of the CPU's) */
  pe_parallel_for_fn parallel_for;
  void *pool;
  uint32_t n_threads;    /* 0 or 1: run everything on the calling thread */
  pe_clock_fn clock;
  pe_op_timing_fn on_op;
  void *hook_user;
  uint32_t depth;        /* subgraph call depth */
  int32_t err_op;        /* op index of the last failure, -1 if none */
  int32_t err_status;
  uint32_t initialised;
  uint32_t plan_check;   /* hosted builds: the PYEDGE_CHECK_PLAN debug check, read at init */
  const void **variants; /* NULL, or each op's kernel variant chosen once (pe_interp_bind_variants) */
} pe_interp;

/* A view of one tensor, handed to kernels. */
typedef struct {
  void *data;
  const int32_t *dims;
  int32_t rank;
  int32_t dtype;
  uint32_t bytes;
  float scale;
  int32_t zero_point;
  int32_t index;
} pe_tensor;

const char *pe_status_str(pe_status s);
const char *pe_op_name(uint32_t op);
uint32_t pe_op_count(void);
uint32_t pe_op_params_size(uint32_t op);
/* Which inputs op's output may share memory with (native/ops.def's inplace column): bit k for
   input k taken over exactly, or one of the flags. */
#define PE_INPLACE_IN0 0x1u
#define PE_INPLACE_IN01 0x3u
#define PE_INPLACE_ALIAS 0x40000000u
#define PE_INPLACE_OFFSET 0x80000000u
uint32_t pe_op_inplace(uint32_t op);
uint32_t pe_crc32(const void *data, size_t size);

/* Validate a blob and bind it; no pointer into it is followed before it is checked. */
pe_status pe_model_init(pe_model *m, const void *blob, size_t size);
/* Bytes of arena the caller must provide (state + activations, PE_ALIGN-aligned). */
uint32_t pe_model_arena_bytes(const pe_model *m);

/* Features of the running CPU (cpuid + xgetbv on x86, getauxval on Linux Arm, the compiler's
   target macros on microcontrollers), not capped. */
uint32_t pe_cpu_features(void);
/* The features a tier name allows ("scalar", "avx2", "avx512", "avx512vnni", "avxvnni", "neon",
   "dotprod", "i8mm", "dsp", "mve", or "all"); 0xFFFFFFFF for an unknown name. */
uint32_t pe_features_for_tier(const char *tier);
/* Name of one feature bit ("avx2", ...), NULL if unknown. */
const char *pe_feature_name(uint32_t bit);
/* pe_cpu_features() capped by the environment variable PYEDGE_ISA (a tier name) where getenv
   exists. Call it once (at interpreter set-up), not per invoke. */
uint32_t pe_detect_features(void);
/* Bind an arena (PE_ALIGN-aligned) and initialise persistent state. */
pe_status pe_interp_init(pe_interp *it, const pe_model *m, void *arena, size_t arena_size, uint32_t features);
/* Optional: choose every op's kernel variant once, now, into slots[0..n) (n = the model's op
   count; caller memory that outlives the interpreter), so that invokes skip the per-op search of
   the variant table. Without it each invoke searches. PE_ERR_STATE before pe_interp_init,
   PE_ERR_BAD_PARAMS for a wrong n or NULL slots. */
pe_status pe_interp_bind_variants(pe_interp *it, const void **slots, uint32_t n);
/* Name of the kernel variant op i runs with the interpreter's features ("scalar",
   "gemm_8x16c4__avx512vnni", ...); NULL if i is out of range. */
const char *pe_op_variant(const pe_interp *it, uint32_t op_index);
/* Name of a packed weight layout (PE_LAYOUT_*), NULL if unknown to this core. */
const char *pe_layout_name(uint32_t layout);
/* The variant table (native/kernels.def), row i < pe_variant_count(): its name, and its op code,
   required features and layout through the out-pointers. */
uint32_t pe_variant_count(void);
const char *pe_variant_info(uint32_t i, uint32_t *op, uint32_t *features, uint32_t *layout);
/* The same facts for the rows of every architecture, compiled here or not (the packer's choice of
   a target's layouts): row i < pe_variant_catalog_count(). */
uint32_t pe_variant_catalog_count(void);
const char *pe_variant_catalog_info(uint32_t i, uint32_t *op, uint32_t *features, uint32_t *layout);
/* Threads the blob's per-thread scratch was planned for (at least 1). */
uint32_t pe_model_max_threads(const pe_model *m);
/* Reset variable tensors to their initial values; like TFLite's ResetVariableTensors() it
   leaves resource variables and CALL_ONCE's done-flags alone. */
pe_status pe_reset_state(pe_interp *it);
/* Run subgraph 0. On failure it->err_op names the failing op. */
pe_status pe_invoke(pe_interp *it);
/* Pointer to a tensor's bytes (NULL for none/out-of-range). */
void *pe_tensor_data(pe_interp *it, uint32_t index);
/* END CDEF */

#define PE_MAGIC 0x31424550u /* "PEB1" little-endian */
#define PE_VERSION_MAJOR 2
#define PE_VERSION_MINOR 0
#define PE_ALIGN 16u
#define PE_MAX_RANK 6
#define PE_NONE 0xFFFFFFFFu
#define PE_LAYOUT_GENERIC 0u
#define PE_LAYOUT_QS8_GEMM_N16K4 1u /* int8 GEMM blocks of 16 channels x 4 inputs (qs8_gemm.h) */
#define PE_LAYOUT_QS8_DWDM_PAIRS 2u /* one-input-channel depthwise: int16 tap pairs (qs8_dwconv_dm.h) */
#define PE_LAYOUT_QS4_GEMM_N16K8 3u /* int4 GEMM blocks of 16 channels x 8 inputs, nibbles (qs4_gemm.h) */
#define PE_LAYOUT_QS4_DW 4u /* int4 depthwise filter, TFLite's nibble packing (qs4_dwconv.h) */
#define PE_MAX_DEPTH 4u

#define PE_TF_VARIABLE 1u /* variable tensor: reset to zero point (int8) or 0 */

#ifdef __cplusplus
}
#endif
#endif /* PYEDGE_H */
