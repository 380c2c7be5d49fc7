/*
 * pe_run_model: runs a model compiled in from a header written by
 * `pyedge pack MODEL --format c -o model_data.h`, with the pyedge C core and no Python.
 *
 * Build (host):
 *   cc -std=c99 -O2 -Wall -Wextra -pedantic -I DIR_OF_HEADER \
 *      -DPE_MODEL_HEADER='"model_data.h"' -DPE_MODEL_PREFIX=MODEL \
 *      -Inative/include -Inative/src -Inative/kernels \
 *      native/tests/pe_run_model.c CORE_SOURCES -lm -o pe_run_model
 * where CORE_SOURCES are all .c files of native/src and native/kernels.
 * PE_MODEL_HEADER defaults to "model_data.h" and PE_MODEL_PREFIX to MODEL (pack's --name
 * upper-cased).
 *
 * Built with -DPE_RUN_MODEL_FILE instead, it includes no model and loads a `.peb` at run time
 * (`-m MODEL.peb`, required): one program for every model, as the cross builds for Arm use it
 * (CMake target pe_run_model_file).
 *
 * Usage: pe_run_model [-m MODEL.peb] [-n INVOKES] [-i INPUT] [-o OUTPUT] [-t TENSOR]... [-v]
 *   INPUT holds the raw bytes of every model input in order (one input set), or INVOKES such
 *   sets back to back (one per invoke); "-" (the default) is stdin. After each invoke the raw
 *   bytes of every output, in order, are appended to OUTPUT ("-", the default, is stdout),
 *   then those of each tensor given with -t (e.g. variable tensors, whose state persists).
 * -v also prints the detected CPU features and the kernel variant each op runs (stderr).
 * Exit status: 0 ok; 1 the core refused the model or an invoke failed (the pe_status name is
 * printed); 2 bad usage, input or I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyedge.h"

#define MAX_EXTRA 64 /* -t tensors */

#ifdef PE_RUN_MODEL_FILE
/* The model comes from -m at run time: its inputs and outputs are read from subgraph 0. */
#define MAX_IO 256
static uint8_t *arena;
static int32_t input_index[MAX_IO], output_index[MAX_IO];
static uint32_t input_bytes[MAX_IO], output_bytes[MAX_IO];
static uint32_t n_inputs, n_outputs;
#define RM_NUM_INPUTS n_inputs
#define RM_NUM_OUTPUTS n_outputs
#else
#include "pe_model_select.h" /* the generated model header; M(x) = <PREFIX>_x */

/* A zero-length array is not C: keep at least one element. */
#define AT_LEAST_1(n) ((n) > 0 ? (n) : 1)

PE_ALIGNAS16 static uint8_t arena[AT_LEAST_1(M(ARENA_BYTES))];

static const int32_t input_index[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_INDEX_LIST);
static const uint32_t input_bytes[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_BYTES_LIST);
static const int32_t input_dtype[AT_LEAST_1(M(NUM_INPUTS))] = M(INPUT_DTYPE_LIST);
static const int32_t output_index[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_INDEX_LIST);
static const uint32_t output_bytes[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_BYTES_LIST);
static const int32_t output_dtype[AT_LEAST_1(M(NUM_OUTPUTS))] = M(OUTPUT_DTYPE_LIST);
#define RM_NUM_INPUTS M(NUM_INPUTS)
#define RM_NUM_OUTPUTS M(NUM_OUTPUTS)
#endif

static const char *status_name(pe_status s) {
  switch (s) {
    case PE_OK: return "PE_OK";
    case PE_ERR_TRUNCATED: return "PE_ERR_TRUNCATED";
    case PE_ERR_BAD_MAGIC: return "PE_ERR_BAD_MAGIC";
    case PE_ERR_VERSION: return "PE_ERR_VERSION";
    case PE_ERR_CHECKSUM: return "PE_ERR_CHECKSUM";
    case PE_ERR_CORRUPT: return "PE_ERR_CORRUPT";
    case PE_ERR_ALIGNMENT: return "PE_ERR_ALIGNMENT";
    case PE_ERR_UNSUPPORTED_OP: return "PE_ERR_UNSUPPORTED_OP";
    case PE_ERR_BAD_PARAMS: return "PE_ERR_BAD_PARAMS";
    case PE_ERR_SHAPE: return "PE_ERR_SHAPE";
    case PE_ERR_ARENA_TOO_SMALL: return "PE_ERR_ARENA_TOO_SMALL";
    case PE_ERR_LAYOUT: return "PE_ERR_LAYOUT";
    case PE_ERR_RUNTIME: return "PE_ERR_RUNTIME";
    case PE_ERR_STATE: return "PE_ERR_STATE";
    case PE_ERR_ISA: return "PE_ERR_ISA";
  }
  return "PE_ERR_UNKNOWN";
}

static int fail_status(const char *what, pe_status st) {
  fprintf(stderr, "pe_run_model: %s failed: %s (%s)\n", what, status_name(st), pe_status_str(st));
  return 1;
}

static int usage(const char *msg) {
  if (msg != NULL) fprintf(stderr, "pe_run_model: %s\n", msg);
  fprintf(stderr, "usage: pe_run_model [-n INVOKES] [-i INPUT|-] [-o OUTPUT|-] [-t TENSOR]... [-v]\n");
  return 2;
}

/* Read a whole stream; *size gets its length. NULL (with a message) on failure. */
static uint8_t *read_all(FILE *f, const char *path, size_t *size) {
  size_t cap = 1u << 16, n = 0;
  uint8_t *buf = (uint8_t *)malloc(cap);
  if (buf == NULL) {
    fprintf(stderr, "pe_run_model: out of memory reading %s\n", path);
    return NULL;
  }
  for (;;) {
    size_t got;
    if (n == cap) {
      uint8_t *bigger = (uint8_t *)realloc(buf, cap * 2);
      if (bigger == NULL) {
        free(buf);
        fprintf(stderr, "pe_run_model: out of memory reading %s\n", path);
        return NULL;
      }
      buf = bigger;
      cap *= 2;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    free(buf);
    fprintf(stderr, "pe_run_model: cannot read %s: %s\n", path, strerror(errno));
    return NULL;
  }
  *size = n;
  return buf;
}

#ifdef PE_RUN_MODEL_FILE
/* Read MODEL.peb into a 16-aligned buffer and take its inputs and outputs from subgraph 0. */
static int load_model(const char *path, pe_model *m, uint8_t **storage) {
  FILE *f = fopen(path, "rb");
  size_t size = 0;
  uint8_t *raw, *blob;
  const pe_subgraph_rec *g;
  pe_status st;
  uint32_t i;
  if (f == NULL) {
    fprintf(stderr, "pe_run_model: cannot open %s: %s\n", path, strerror(errno));
    return 2;
  }
  raw = read_all(f, path, &size);
  fclose(f);
  if (raw == NULL) return 2;
  *storage = (uint8_t *)malloc(size + 16);
  if (*storage == NULL) {
    free(raw);
    fprintf(stderr, "pe_run_model: out of memory for %s\n", path);
    return 2;
  }
  blob = *storage + ((16u - (uintptr_t)*storage % 16u) % 16u);
  memcpy(blob, raw, size);
  free(raw);
  st = pe_model_init(m, blob, size);
  if (st != PE_OK) return fail_status("pe_model_init", st);
  g = &m->subgraphs[0];
  if (g->n_inputs > MAX_IO || g->n_outputs > MAX_IO) {
    fprintf(stderr, "pe_run_model: %s has more than %d inputs or outputs\n", path, MAX_IO);
    return 2;
  }
  n_inputs = g->n_inputs;
  n_outputs = g->n_outputs;
  for (i = 0; i < n_inputs; ++i) {
    input_index[i] = m->indices[g->inputs + i];
    input_bytes[i] = m->tensors[input_index[i]].bytes;
  }
  for (i = 0; i < n_outputs; ++i) {
    output_index[i] = m->indices[g->outputs + i];
    output_bytes[i] = m->tensors[output_index[i]].bytes;
  }
  arena = (uint8_t *)malloc((size_t)pe_model_arena_bytes(m) + 16);
  if (arena == NULL) {
    fprintf(stderr, "pe_run_model: out of memory for the arena (%lu bytes)\n",
            (unsigned long)pe_model_arena_bytes(m));
    return 2;
  }
  return 0;
}
#else
/* The header's #defines must describe the blob it carries. */
static int check_header(const pe_model *m) {
  const pe_subgraph_rec *g = &m->subgraphs[0];
  uint32_t i;
  if (pe_model_arena_bytes(m) != M(ARENA_BYTES) || m->size != M(BLOB_SIZE) ||
      m->hdr->checksum != M(BLOB_CRC32) || g->n_inputs != M(NUM_INPUTS) ||
      g->n_outputs != M(NUM_OUTPUTS)) {
    fprintf(stderr, "pe_run_model: the header's #defines do not match its blob\n");
    return 0;
  }
  for (i = 0; i < g->n_inputs; ++i) {
    const pe_tensor_rec *t = &m->tensors[m->indices[g->inputs + i]];
    if (m->indices[g->inputs + i] != input_index[i] || t->bytes != input_bytes[i] ||
        t->dtype != input_dtype[i]) {
      fprintf(stderr, "pe_run_model: input %u in the header does not match the blob\n", (unsigned)i);
      return 0;
    }
  }
  for (i = 0; i < g->n_outputs; ++i) {
    const pe_tensor_rec *t = &m->tensors[m->indices[g->outputs + i]];
    if (m->indices[g->outputs + i] != output_index[i] || t->bytes != output_bytes[i] ||
        t->dtype != output_dtype[i]) {
      fprintf(stderr, "pe_run_model: output %u in the header does not match the blob\n", (unsigned)i);
      return 0;
    }
  }
  return 1;
}
#endif

int main(int argc, char **argv) {
  const char *in_path = "-", *out_path = "-", *model_path = NULL;
  long invokes = 1;
  int verbose = 0, a, rc = 0;
  size_t set_bytes = 0, in_size = 0, pos = 0, sets;
  uint8_t *input;
  FILE *in, *out;
  pe_model m;
  pe_interp it;
  pe_status st;
  uint32_t i, n_extra = 0;
  uint32_t extra[MAX_EXTRA];
  long k;

  for (a = 1; a < argc; ++a) {
    if (strcmp(argv[a], "-v") == 0) {
      verbose = 1;
    } else if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
      usage(NULL);
      return 0;
    } else if (a + 1 < argc && strcmp(argv[a], "-n") == 0) {
      char *end;
      invokes = strtol(argv[++a], &end, 10);
      if (*end != '\0' || invokes < 1 || invokes > 1000000) return usage("-n needs a count >= 1");
    } else if (a + 1 < argc && strcmp(argv[a], "-t") == 0) {
      char *end;
      long t = strtol(argv[++a], &end, 10);
      if (*end != '\0' || t < 0 || t > 0x7FFFFFFFL) return usage("-t needs a tensor index >= 0");
      if (n_extra == MAX_EXTRA) return usage("too many -t tensors");
      extra[n_extra++] = (uint32_t)t;
    } else if (a + 1 < argc && strcmp(argv[a], "-m") == 0) {
      model_path = argv[++a];
    } else if (a + 1 < argc && strcmp(argv[a], "-i") == 0) {
      in_path = argv[++a];
    } else if (a + 1 < argc && strcmp(argv[a], "-o") == 0) {
      out_path = argv[++a];
    } else {
      fprintf(stderr, "pe_run_model: unknown or incomplete argument '%s'\n", argv[a]);
      return usage(NULL);
    }
  }

#ifdef PE_RUN_MODEL_FILE
  {
    uint8_t *storage = NULL;
    if (model_path == NULL) return usage("-m MODEL.peb is required (this build includes no model)");
    rc = load_model(model_path, &m, &storage);
    if (rc != 0) return rc;
    st = pe_interp_init(&it, &m, arena + ((16u - (uintptr_t)arena % 16u) % 16u), pe_model_arena_bytes(&m),
                        pe_detect_features());
  }
#else
  if (model_path != NULL) return usage("-m: this build runs the model compiled into it");
  st = pe_model_init(&m, M(BLOB), M(BLOB_SIZE));
  if (st != PE_OK) return fail_status("pe_model_init", st);
  if (!check_header(&m)) return 1;
  st = pe_interp_init(&it, &m, arena, sizeof arena, pe_detect_features());
#endif
  if (st != PE_OK) return fail_status("pe_interp_init", st);
  if (verbose) {
    uint32_t bit;
    fprintf(stderr, "pe_run_model: features:");
    for (bit = 1; bit != 0; bit <<= 1)
      if (it.features & bit) fprintf(stderr, " %s", pe_feature_name(bit) ? pe_feature_name(bit) : "?");
    fprintf(stderr, "%s\n", it.features ? "" : " none (scalar only)");
    for (i = 0; i < m.hdr->n_ops; ++i)
      fprintf(stderr, "pe_run_model: op %u %s: %s\n", (unsigned)i, pe_op_name(m.ops[i].op), pe_op_variant(&it, i));
  }
  for (i = 0; i < RM_NUM_INPUTS; ++i)
    if (pe_tensor_data(&it, (uint32_t)input_index[i]) == NULL) return fail_status("input binding", PE_ERR_CORRUPT);
  for (i = 0; i < RM_NUM_OUTPUTS; ++i)
    if (pe_tensor_data(&it, (uint32_t)output_index[i]) == NULL) return fail_status("output binding", PE_ERR_CORRUPT);
  for (i = 0; i < n_extra; ++i) {
    if (pe_tensor_data(&it, extra[i]) == NULL) {
      fprintf(stderr, "pe_run_model: -t %lu: no such tensor with data (the model has %lu tensors)\n",
              (unsigned long)extra[i], (unsigned long)m.hdr->n_tensors);
      return 2;
    }
  }

  for (i = 0; i < RM_NUM_INPUTS; ++i) set_bytes += input_bytes[i];
  in = strcmp(in_path, "-") == 0 ? stdin : fopen(in_path, "rb");
  if (in == NULL) {
    fprintf(stderr, "pe_run_model: cannot open %s: %s\n", in_path, strerror(errno));
    return 2;
  }
  input = read_all(in, in_path, &in_size);
  if (in != stdin) fclose(in);
  if (input == NULL) return 2;
  sets = set_bytes == 0 ? 1 : in_size / set_bytes;
  if (in_size != sets * set_bytes || (sets != 1 && sets != (size_t)invokes)) {
    fprintf(stderr,
            "pe_run_model: %s holds %lu bytes; the model's inputs take %lu bytes a set: "
            "give one set, or one set per invoke (%ld)\n",
            strcmp(in_path, "-") == 0 ? "stdin" : in_path, (unsigned long)in_size, (unsigned long)set_bytes,
            invokes);
    free(input);
    return 2;
  }
  if (verbose)
    fprintf(stderr, "pe_run_model: blob %lu bytes, arena %lu bytes, %u input(s), %u output(s), %ld invoke(s)\n",
            (unsigned long)m.size, (unsigned long)pe_model_arena_bytes(&m), (unsigned)RM_NUM_INPUTS,
            (unsigned)RM_NUM_OUTPUTS, invokes);

  out = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "wb");
  if (out == NULL) {
    fprintf(stderr, "pe_run_model: cannot open %s: %s\n", out_path, strerror(errno));
    free(input);
    return 2;
  }
  for (k = 0; k < invokes && rc == 0; ++k) {
    if (k == 0 || sets > 1) {
      for (i = 0; i < RM_NUM_INPUTS; ++i) {
        memcpy(pe_tensor_data(&it, (uint32_t)input_index[i]), input + pos, input_bytes[i]);
        pos += input_bytes[i];
      }
    }
    st = pe_invoke(&it);
    if (st != PE_OK) {
      fprintf(stderr, "pe_run_model: invoke %ld failed in op %ld: %s (%s)\n", k, (long)it.err_op,
              status_name(st), pe_status_str(st));
      rc = 1;
      break;
    }
    for (i = 0; i < RM_NUM_OUTPUTS + n_extra && rc == 0; ++i) {
      uint32_t t = i < RM_NUM_OUTPUTS ? (uint32_t)output_index[i] : extra[i - RM_NUM_OUTPUTS];
      uint32_t n = m.tensors[t].bytes;
      if (fwrite(pe_tensor_data(&it, t), 1, n, out) != n) {
        fprintf(stderr, "pe_run_model: cannot write %s: %s\n", out_path, strerror(errno));
        rc = 2;
      }
    }
  }
  if (fflush(out) != 0 && rc == 0) {
    fprintf(stderr, "pe_run_model: cannot write %s: %s\n", out_path, strerror(errno));
    rc = 2;
  }
  if (out != stdout && fclose(out) != 0 && rc == 0) {
    fprintf(stderr, "pe_run_model: cannot write %s: %s\n", out_path, strerror(errno));
    rc = 2;
  }
  free(input);
  return rc;
}
