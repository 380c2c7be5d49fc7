/*
 * fuzz_blob: libFuzzer target for the blob loader (pe_model_init) and everything a blob that
 * passes it can reach (pe_interp_init, the kernels through pe_invoke).
 *
 * Each input is treated as a blob:
 *   1. It is copied into fresh page-aligned memory that is made read-only before the core sees
 *      it (the core requires an aligned blob, and a blob may live in flash or a read-only mmap:
 *      a kernel writing into the blob faults here).
 *   2. The CRC-32 checksum field is RECOMPUTED over the first `total_size` bytes whenever the
 *      header is long enough and total_size fits the input. Random mutations almost never keep
 *      a valid CRC-32, so without this every mutated input would stop at PE_ERR_CHECKSUM and the
 *      field checks and the kernels' check functions behind it would never be exercised. The
 *      checksum check itself is covered by the deterministic tests (tests/test_hostile_blobs.py).
 *      Define FUZZ_KEEP_CHECKSUM to fuzz without the fix-up.
 *   3. pe_model_init; if the blob passes and needs at most FUZZ_MAX_ARENA bytes of arena, an
 *      arena is malloc'ed (ASan's redzones around it), filled with garbage as uninitialised RAM
 *      would be, pe_interp_init binds it, every subgraph-0 input is filled with
 *      pseudo-random bytes derived from the input, and pe_invoke runs twice (state persists
 *      across invokes). Kernel failures (PE_ERR_RUNTIME, ...) are fine; memory errors,
 *      undefined behaviour, leaks and timeouts are what the sanitizers and libFuzzer catch.
 *
 * Build (tools/fuzz/fuzz.py does this):
 *   clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -Inative/include -Inative/src -Inative/kernels native/tests/fuzz_blob.c \
 *     native/src/\*.c native/kernels/\*.c -lm -o fuzz_blob
 *
 * Without libFuzzer (e.g. gcc -fsanitize=address,undefined), define FUZZ_STANDALONE_MAIN to get
 * a main() that runs every file named on the command line through the same entry point, for
 * replaying a corpus or a crash reproducer.
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#define _DEFAULT_SOURCE          /* MAP_ANONYMOUS */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyedge.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define FUZZ_READONLY_BLOB 1
#endif

#ifndef FUZZ_MAX_ARENA
#define FUZZ_MAX_ARENA (64u * 1024u * 1024u) /* bigger plans are validated but not run */
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *alloc_aligned(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, PE_ALIGN, n > 0 ? n : 1) != 0) return NULL;
  return p;
}

/* The blob lives in read-only pages, as it does in flash or in pyedge's mmap of a .peb: a
   kernel that writes into the blob (e.g. an op output tampered into a constant) faults. It
   ends (16-byte aligned) right before an inaccessible guard page and starts after another, so
   reads past either end fault too (ASan's redzones do not cover mmap'ed memory). */
typedef struct {
  uint8_t *blob;
  void *map;
  size_t map_len;
} fuzz_blob;

static int blob_copy(fuzz_blob *fb, const uint8_t *data, size_t size) {
#ifdef FUZZ_READONLY_BLOB
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t body = (size + PE_ALIGN + page - 1) / page * page;
  uint8_t *base;
  fb->map_len = body + 2 * page;
  fb->map = mmap(NULL, fb->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fb->map == MAP_FAILED) return 0;
  base = (uint8_t *)fb->map + page;
  if (mprotect(base, body, PROT_READ | PROT_WRITE) != 0) {
    munmap(fb->map, fb->map_len);
    return 0;
  }
  fb->blob = base + ((body - size) & ~(size_t)(PE_ALIGN - 1u));
#else
  fb->map = alloc_aligned(size);
  fb->map_len = size;
  if (fb->map == NULL) return 0;
  fb->blob = (uint8_t *)fb->map;
#endif
  if (size > 0) memcpy(fb->blob, data, size);
  return 1;
}

static void blob_seal(fuzz_blob *fb) {
#ifdef FUZZ_READONLY_BLOB
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  (void)mprotect((uint8_t *)fb->map + page, fb->map_len - 2 * page, PROT_READ);
#else
  (void)fb;
#endif
}

static void blob_free(fuzz_blob *fb) {
#ifdef FUZZ_READONLY_BLOB
  munmap(fb->map, fb->map_len);
#else
  free(fb->map);
#endif
}

static uint32_t load_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void store_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* Recompute the header checksum the way the packer writes it (zlib CRC-32 of total_size bytes
   with the checksum field zeroed). Leaves inputs whose header is incomplete or whose
   total_size does not fit alone: those exercise the truncation checks. */
static void fix_checksum(uint8_t *blob, size_t size) {
  const size_t at = offsetof(pe_header, checksum);
  uint32_t total;
  if (size < sizeof(pe_header)) return;
  total = load_u32(blob + offsetof(pe_header, total_size));
  if (total < at + 4 || total > size) return;
  store_u32(blob + at, 0);
  store_u32(blob + at, pe_crc32(blob, total));
}

/* xorshift32: deterministic input bytes, seeded from the blob so a reproducer replays. */
static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static void fill_inputs(pe_interp *it, const pe_model *m, uint32_t seed) {
  const pe_subgraph_rec *g = &m->subgraphs[0];
  uint32_t i, s = seed ? seed : 0x9E3779B9u;
  for (i = 0; i < g->n_inputs; ++i) {
    int32_t t = m->indices[g->inputs + i];
    uint8_t *p = (uint8_t *)pe_tensor_data(it, (uint32_t)t);
    uint32_t k, n;
    if (p == NULL || m->tensors[t].storage == PE_STORE_CONST) continue;
    n = m->tensors[t].bytes;
    for (k = 0; k < n; ++k) p[k] = (uint8_t)(next_rand(&s) >> 24);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_blob fb;
  uint8_t *blob;
  pe_model m;
  pe_interp it;
  pe_status st;
  uint32_t need;
  void *arena;

  if (!blob_copy(&fb, data, size)) return 0; /* a zero-length input still gets a valid pointer */
  blob = fb.blob;
#ifndef FUZZ_KEEP_CHECKSUM
  fix_checksum(blob, size);
#endif
  blob_seal(&fb);
  st = pe_model_init(&m, blob, size);
  if (st != PE_OK) {
    blob_free(&fb);
    return 0;
  }
  need = pe_model_arena_bytes(&m);
  if (need <= FUZZ_MAX_ARENA) {
    arena = alloc_aligned(need);
    if (arena != NULL) {
      /* garbage in the activation region, as a device's uninitialised RAM would hold */
      memset(arena, 0xA5, need);
      st = pe_interp_init(&it, &m, arena, need, pe_detect_features());
      if (st == PE_OK) {
        /* the first invoke searches the variant table per op, the second runs the bound choice */
        const void **slots = (const void **)malloc(sizeof(void *) * (m.hdr->n_ops ? m.hdr->n_ops : 1u));
        fill_inputs(&it, &m, m.hdr->checksum);
        (void)pe_invoke(&it);
        if (slots != NULL && pe_interp_bind_variants(&it, slots, m.hdr->n_ops) == PE_OK) (void)pe_invoke(&it);
        free(slots);
      }
      free(arena);
    }
  }
  blob_free(&fb);
  return 0;
}

#ifdef FUZZ_STANDALONE_MAIN
/* Replay: run every file given on the command line once; exit 0 if none crashed. */
int main(int argc, char **argv) {
  int i;
  for (i = 1; i < argc; ++i) {
    FILE *f = fopen(argv[i], "rb");
    uint8_t *buf;
    long n;
    if (f == NULL) {
      perror(argv[i]);
      return 2;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
      fclose(f);
      fprintf(stderr, "%s: cannot size the file\n", argv[i]);
      return 2;
    }
    buf = (uint8_t *)malloc((size_t)n + 1u);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
      fclose(f);
      free(buf);
      fprintf(stderr, "%s: read failed\n", argv[i]);
      return 2;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    printf("ran %s (%ld bytes)\n", argv[i], n);
  }
  return 0;
}
#endif
