/*
 * pyedge device agent: the device side of the wire protocol (docs/wire-protocol.md).
 *
 * The agent turns request frames into calls on the C core (upload a blob, load, set inputs,
 * invoke, read outputs and per-op counts) and writes one response frame per request. It does no
 * I/O and no allocation of its own: the platform gives it memory for the blob and the arena,
 * two frame buffers, and hooks to write bytes, read bytes and read a clock.
 *
 *   pe_agent_config c = {0};  c.board = "host"; c.blob_mem = ...; c.write = my_write; ...
 *   pe_agent *a = (pe_agent *)storage;   (pe_agent_size() bytes, 8-byte aligned)
 *   pe_agent_init(a, &c);
 *   pe_agent_feed(a, bytes, n);          (push bytes as they arrive; responses go to c.write)
 * or, with a read hook, pe_agent_serve(a) loops until the link closes.
 */
#ifndef PE_AGENT_H
#define PE_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "pyedge.h"

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN CDEF */
/* Wire protocol: frame layout and codes (docs/wire-protocol.md). */
#define PE_WIRE_VERSION 0x0100       /* major 1, minor 0: a different major is refused */
#define PE_WIRE_MAGIC0 0x50          /* 'P' */
#define PE_WIRE_MAGIC1 0x57          /* 'W' */
#define PE_WIRE_HEADER 8             /* magic[2] len u16 seq u16 code u8 status u8 */
#define PE_WIRE_TRAILER 4            /* CRC-32 of header and payload */
#define PE_WIRE_RESPONSE 0x80        /* response code = request code | 0x80 */
#define PE_AGENT_IDLE_MS 100        /* quiet time after which a partial frame is dropped */
#define PE_WIRE_NAK 0xFF             /* response to a frame that failed its CRC or length check */

typedef enum {
  PE_CMD_HELLO = 0x01,
  PE_CMD_UPLOAD_BEGIN = 0x02,
  PE_CMD_UPLOAD_CHUNK = 0x03,
  PE_CMD_UPLOAD_END = 0x04,
  PE_CMD_LOAD = 0x05,
  PE_CMD_SET_INPUT = 0x06,
  PE_CMD_INVOKE = 0x07,
  PE_CMD_GET_OUTPUT = 0x08,
  PE_CMD_GET_PROFILE = 0x09,
  PE_CMD_GET_STATS = 0x0A,
  PE_CMD_RESET = 0x0B
} pe_wire_cmd;

typedef enum {
  PE_WIRE_OK = 0,
  PE_WIRE_ERR_FRAME = 1,      /* NAK: CRC mismatch or length over the maximum */
  PE_WIRE_ERR_COMMAND = 2,    /* unknown command code */
  PE_WIRE_ERR_PAYLOAD = 3,    /* payload length or a field out of range */
  PE_WIRE_ERR_VERSION = 4,    /* host's protocol major version differs (detail: agent's version) */
  PE_WIRE_ERR_TOO_LARGE = 5,  /* blob larger than the blob memory (detail: size, capacity) */
  PE_WIRE_ERR_NO_UPLOAD = 6,  /* chunk or end without a matching upload begin */
  PE_WIRE_ERR_OFFSET = 7,     /* chunk leaves a gap or runs past the blob (detail: received, size) */
  PE_WIRE_ERR_INCOMPLETE = 8, /* upload end before every byte arrived (detail: received, size) */
  PE_WIRE_ERR_BLOB = 9,       /* the core rejected the uploaded blob (detail: pe_status) */
  PE_WIRE_ERR_NO_MODEL = 10,  /* no model loaded (never uploaded, or dropped for an upload) */
  PE_WIRE_ERR_ARENA = 11,     /* arena memory too small (detail: needed, capacity) */
  PE_WIRE_ERR_INDEX = 12,     /* input/output index or byte range out of range (detail: index, count) */
  PE_WIRE_ERR_INVOKE = 13     /* pe_invoke failed (detail: pe_status, op index) */
} pe_wire_status;

/* HELLO's flags word: what the host should know about the agent's state. */
#define PE_HELLO_MODEL_LOADED 0x0001u  /* a model is loaded and runnable */
#define PE_HELLO_RAM_ONLY 0x0002u      /* blobs live in RAM only: a reset or power cycle forgets them */

/* What the clock hook counts; reported in HELLO so the host labels the numbers. */
typedef enum {
  PE_COUNTER_NS = 0,           /* nanoseconds of a monotonic clock */
  PE_COUNTER_CYCLES = 1,       /* CPU cycles (DWT CYCCNT, PMU) */
  PE_COUNTER_INSTRUCTIONS = 2  /* retired instructions (QEMU -icount) */
} pe_counter_kind;

typedef int32_t (*pe_agent_write_fn)(void *user, const uint8_t *data, uint32_t n);
/* Up to n bytes, waiting at most timeout_ms; 0 on timeout, negative when the link is closed. */
typedef int32_t (*pe_agent_read_fn)(void *user, uint8_t *data, uint32_t n, uint32_t timeout_ms);

typedef struct {
  const char *board;          /* board name reported in HELLO (boards/<name>.toml) */
  uint32_t features;          /* PE_FEAT_* the kernels may use */
  uint8_t *blob_mem;          /* PE_ALIGN-aligned memory for uploaded blobs */
  uint32_t blob_cap;
  uint8_t *arena_mem;         /* PE_ALIGN-aligned arena (plus 8 bytes per op for the counters) */
  uint32_t arena_cap;
  uint8_t *rx_buf;            /* frame buffers, each PE_WIRE_HEADER + max_payload + PE_WIRE_TRAILER */
  uint8_t *tx_buf;
  uint32_t max_payload;       /* 64 .. 65535 */
  pe_agent_write_fn write;    /* required */
  pe_agent_read_fn read;      /* for pe_agent_serve only */
  pe_clock_fn clock;          /* optional: without it every count is 0 */
  uint64_t clock_hz;          /* ticks per second of clock (0: unknown) */
  uint32_t counter_kind;      /* pe_counter_kind */
  void *io_user;              /* passed to write and read */
  void *clock_user;           /* passed to clock */
  uint32_t hello_flags;       /* PE_HELLO_RAM_ONLY if it applies (MODEL_LOADED is the agent's own) */
} pe_agent_config;

typedef struct pe_agent pe_agent;

/* Bytes (and 8-byte alignment) the caller provides for a pe_agent. */
size_t pe_agent_size(void);
/* PE_OK, or PE_ERR_ALIGNMENT (unaligned memory), PE_ERR_BAD_PARAMS (missing write hook or
   buffers, max_payload out of range). */
pe_status pe_agent_init(pe_agent *a, const pe_agent_config *cfg);
/* Consume bytes from the link; every complete frame is answered through the write hook. */
void pe_agent_feed(pe_agent *a, const uint8_t *data, uint32_t n);
/* The link went quiet mid-frame: drop the partial frame (its sender retransmits it whole). */
void pe_agent_idle(pe_agent *a);
/* Read through the read hook and feed until the link closes (read < 0); returns that value. A
   read that times out after PE_AGENT_IDLE_MS calls pe_agent_idle. */
int32_t pe_agent_serve(pe_agent *a);
/* Frames answered, frames NAKed, duplicates answered from the cache (for tests and logs). */
void pe_agent_counts(const pe_agent *a, uint32_t *answered, uint32_t *naked, uint32_t *duplicates);

/* A write hook that appends to a caller's buffer (in-process loopback, tests). */
typedef struct {
  uint8_t *buf;
  uint32_t cap;
  uint32_t len;
  uint32_t overflow; /* bytes that did not fit */
} pe_byte_sink;
int32_t pe_byte_sink_write(void *user, const uint8_t *data, uint32_t n);
/* END CDEF */

#ifdef __cplusplus
}
#endif
#endif /* PE_AGENT_H */
