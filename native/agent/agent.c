/* The device agent: frame parser, duplicate cache and command handlers (docs/wire-protocol.md).
 * Portable C99 on the C core; every byte in and out goes through the platform's hooks. */
#include <string.h>

#include "pe_agent.h"

enum { UP_NONE = 0, UP_ACTIVE = 1, UP_COMPLETE = 2 };

struct pe_agent {
  pe_agent_config c;
  uint32_t frame_cap; /* header + max_payload + trailer */
  uint32_t rx_len;
  /* duplicate cache: the last request's seq and CRC, and its response in tx_buf */
  int32_t last_seq;
  uint32_t last_crc;
  uint32_t tx_len;
  /* the loaded model (runnable when loaded) and the upload in progress or complete */
  pe_model model;
  pe_model staged;
  pe_interp it;
  uint32_t loaded;
  uint32_t cur_off, cur_size;
  uint32_t up_state, up_off, up_size, up_sum, up_received;
  uint64_t *ticks;    /* per-op counters, after the arena */
  uint32_t arena_bytes;
  uint32_t invokes;
  uint32_t answered, naked, duplicates;
};

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v & 0xFFFFu); wr16(p + 2, v >> 16); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }
static uint32_t align_up(uint32_t v) { return (v + PE_ALIGN - 1u) & ~(PE_ALIGN - 1u); }

size_t pe_agent_size(void) { return sizeof(pe_agent); }

/* The arena's fill pattern: the high-water mark is the last byte that no longer holds it. */
#define ARENA_FILL 0xA5u

pe_status pe_agent_init(pe_agent *a, const pe_agent_config *cfg) {
  if (a == NULL || cfg == NULL || cfg->write == NULL || cfg->rx_buf == NULL || cfg->tx_buf == NULL ||
      cfg->max_payload < 64u || cfg->max_payload > 65535u || cfg->blob_mem == NULL || cfg->arena_mem == NULL)
    return PE_ERR_BAD_PARAMS;
  if (((uintptr_t)cfg->blob_mem % PE_ALIGN) != 0 || ((uintptr_t)cfg->arena_mem % PE_ALIGN) != 0 ||
      ((uintptr_t)a % 8u) != 0)
    return PE_ERR_ALIGNMENT;
  memset(a, 0, sizeof(*a));
  a->c = *cfg;
  if (a->c.board == NULL) a->c.board = "";
  a->frame_cap = PE_WIRE_HEADER + cfg->max_payload + PE_WIRE_TRAILER;
  a->last_seq = -1;
  return PE_OK;
}

void pe_agent_counts(const pe_agent *a, uint32_t *answered, uint32_t *naked, uint32_t *duplicates) {
  if (answered) *answered = a->answered;
  if (naked) *naked = a->naked;
  if (duplicates) *duplicates = a->duplicates;
}

/* ---- responses ---------------------------------------------------------------------------- */

typedef struct {
  pe_agent *a;
  uint8_t *p;   /* payload start in tx_buf */
  uint32_t n;   /* payload bytes so far */
} reply;

static uint8_t *room(reply *r, uint32_t n) {
  uint8_t *p = r->p + r->n;
  r->n += n;
  return p;
}

static void send_frame(pe_agent *a, uint32_t seq, uint32_t code, uint32_t status, uint32_t n) {
  uint8_t *f = a->c.tx_buf;
  f[0] = PE_WIRE_MAGIC0;
  f[1] = PE_WIRE_MAGIC1;
  wr16(f + 2, n);
  wr16(f + 4, seq);
  f[6] = (uint8_t)code;
  f[7] = (uint8_t)status;
  wr32(f + PE_WIRE_HEADER + n, pe_crc32(f, PE_WIRE_HEADER + n));
  a->tx_len = PE_WIRE_HEADER + n + PE_WIRE_TRAILER;
  a->c.write(a->c.io_user, f, a->tx_len);
}

/* An error response: status and up to two detail words. */
static uint32_t fail(reply *r, uint32_t status, uint32_t d0, uint32_t d1) {
  r->n = 0;
  wr32(room(r, 4), d0);
  wr32(room(r, 4), d1);
  return status;
}

/* ---- model state -------------------------------------------------------------------------- */

static const pe_subgraph_rec *main_graph(const pe_agent *a) { return &a->model.subgraphs[0]; }

static void add_ticks(void *user, uint32_t op_index, uint64_t ticks);

static pe_status bind_model(pe_agent *a) {
  uint32_t need = pe_model_arena_bytes(&a->model);
  uint32_t counters = 8u * a->model.hdr->n_ops;
  pe_status st;
  if (need > a->c.arena_cap || counters > a->c.arena_cap - align_up(need)) return PE_ERR_ARENA_TOO_SMALL;
  st = pe_interp_init(&a->it, &a->model, a->c.arena_mem, need, a->c.features);
  if (st != PE_OK) return st;
  /* the state region is initialised; the activation region gets the fill pattern */
  memset(a->c.arena_mem + a->model.state_bytes, ARENA_FILL, need - a->model.state_bytes);
  a->ticks = (uint64_t *)(void *)(a->c.arena_mem + align_up(need));
  memset(a->ticks, 0, counters);
  a->arena_bytes = need;
  if (a->c.clock != NULL) {
    a->it.clock = a->c.clock;
    a->it.on_op = add_ticks;
    a->it.hook_user = a;
  }
  a->invokes = 0;
  a->loaded = 1;
  return PE_OK;
}

static void add_ticks(void *user, uint32_t op_index, uint64_t ticks) {
  pe_agent *a = (pe_agent *)user;
  if (op_index < a->model.hdr->n_ops) a->ticks[op_index] += ticks;
}

static uint32_t high_water(const pe_agent *a) {
  uint32_t i = a->arena_bytes;
  while (i > a->model.state_bytes && a->c.arena_mem[i - 1] == ARENA_FILL) i--;
  return i;
}

/* Tensor index of input (out = 0) or output (out = 1) k of subgraph 0, or -1. */
static int32_t io_tensor(const pe_agent *a, uint32_t out, uint32_t k) {
  const pe_subgraph_rec *sg = main_graph(a);
  uint32_t n = out ? sg->n_outputs : sg->n_inputs;
  if (k >= n) return -1;
  return a->model.indices[(out ? sg->outputs : sg->inputs) + k];
}

/* ---- commands ----------------------------------------------------------------------------- */

static uint32_t cmd_hello(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  uint32_t len = (uint32_t)strlen(a->c.board);
  if (n < 2) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 2);
  if ((rd16(p) >> 8) != (PE_WIRE_VERSION >> 8)) return fail(r, PE_WIRE_ERR_VERSION, PE_WIRE_VERSION, rd16(p));
  if (len > 64) len = 64;
  wr16(room(r, 2), PE_WIRE_VERSION);
  wr16(room(r, 2), (a->c.hello_flags & ~PE_HELLO_MODEL_LOADED) | (a->loaded ? PE_HELLO_MODEL_LOADED : 0u));
  wr32(room(r, 4), a->c.max_payload);
  wr32(room(r, 4), a->c.features);
  wr64(room(r, 8), a->c.clock == NULL ? 0 : a->c.clock_hz);
  wr32(room(r, 4), a->c.blob_cap);
  wr32(room(r, 4), a->c.arena_cap);
  *room(r, 1) = (uint8_t)a->c.counter_kind;
  *room(r, 1) = (uint8_t)len;
  memcpy(room(r, len), a->c.board, len);
  return PE_WIRE_OK;
}

static uint32_t cmd_upload_begin(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  uint32_t size, sum, off, dropped = 0;
  if (n != 8) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 8);
  size = rd32(p);
  sum = rd32(p + 4);
  if (size < sizeof(pe_header)) return fail(r, PE_WIRE_ERR_PAYLOAD, size, (uint32_t)sizeof(pe_header));
  if (size > a->c.blob_cap) return fail(r, PE_WIRE_ERR_TOO_LARGE, size, a->c.blob_cap);
  if (a->up_state != UP_NONE && a->up_size == size && a->up_sum == sum) {
    /* the same blob again: resume where the received bytes end */
  } else {
    /* place it beside the loaded model if both fit, so a failed upload leaves that one runnable */
    if (a->loaded && size <= a->cur_off) {
      off = 0;
    } else if (a->loaded && align_up(a->cur_off + a->cur_size) <= a->c.blob_cap &&
               size <= a->c.blob_cap - align_up(a->cur_off + a->cur_size)) {
      off = align_up(a->cur_off + a->cur_size);
    } else {
      off = 0;
      dropped = a->loaded;
      a->loaded = 0;
    }
    a->up_off = off;
    a->up_size = size;
    a->up_sum = sum;
    a->up_received = 0;
    a->up_state = UP_ACTIVE;
  }
  wr32(room(r, 4), a->up_received);
  wr32(room(r, 4), (a->loaded ? 1u : 0u) | (dropped ? 2u : 0u));
  return PE_WIRE_OK;
}

static uint32_t cmd_upload_chunk(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  uint32_t off, len;
  if (n < 4) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 4);
  if (a->up_state != UP_ACTIVE) return fail(r, PE_WIRE_ERR_NO_UPLOAD, 0, 0);
  off = rd32(p);
  len = n - 4;
  if (off > a->up_received || len > a->up_size || off > a->up_size - len)
    return fail(r, PE_WIRE_ERR_OFFSET, a->up_received, a->up_size);
  memcpy(a->c.blob_mem + a->up_off + off, p + 4, len);
  if (off + len > a->up_received) a->up_received = off + len;
  wr32(room(r, 4), a->up_received);
  return PE_WIRE_OK;
}

static uint32_t cmd_upload_end(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  pe_status st;
  (void)p;
  if (n != 0) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 0);
  if (a->up_state == UP_COMPLETE) {  /* asked again: the verdict stands */
    wr32(room(r, 4), a->up_size);
    return PE_WIRE_OK;
  }
  if (a->up_state != UP_ACTIVE) return fail(r, PE_WIRE_ERR_NO_UPLOAD, 0, 0);
  if (a->up_received != a->up_size) return fail(r, PE_WIRE_ERR_INCOMPLETE, a->up_received, a->up_size);
  st = pe_model_init(&a->staged, a->c.blob_mem + a->up_off, a->up_size);
  if (st == PE_OK && a->staged.hdr->checksum != a->up_sum) st = PE_ERR_CHECKSUM;
  if (st != PE_OK) {
    a->up_state = UP_NONE;
    return fail(r, PE_WIRE_ERR_BLOB, (uint32_t)st, a->loaded);
  }
  a->up_state = UP_COMPLETE;
  wr32(room(r, 4), a->up_size);
  return PE_WIRE_OK;
}

static uint32_t cmd_load(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  pe_status st;
  const pe_subgraph_rec *sg;
  (void)p;
  if (n != 0) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 0);
  if (a->up_state == UP_COMPLETE) {
    a->model = a->staged;
    a->cur_off = a->up_off;
    a->cur_size = a->up_size;
    a->up_state = UP_NONE;
  } else if (!a->loaded) {
    return fail(r, PE_WIRE_ERR_NO_MODEL, 0, 0);
  }
  a->loaded = 0;
  st = bind_model(a);
  if (st == PE_ERR_ARENA_TOO_SMALL)
    return fail(r, PE_WIRE_ERR_ARENA, align_up(pe_model_arena_bytes(&a->model)) + 8u * a->model.hdr->n_ops,
                a->c.arena_cap);
  if (st != PE_OK) return fail(r, PE_WIRE_ERR_BLOB, (uint32_t)st, 0);
  sg = main_graph(a);
  wr32(room(r, 4), a->model.hdr->checksum);
  wr32(room(r, 4), a->model.size);
  wr32(room(r, 4), a->arena_bytes);
  wr32(room(r, 4), a->model.hdr->n_ops);
  wr16(room(r, 2), sg->n_inputs);
  wr16(room(r, 2), sg->n_outputs);
  return PE_WIRE_OK;
}

static uint32_t cmd_set_input(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  int32_t t;
  uint32_t off, len, bytes;
  if (n < 8) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 8);
  if (!a->loaded) return fail(r, PE_WIRE_ERR_NO_MODEL, 0, 0);
  t = io_tensor(a, 0, rd16(p));
  if (t < 0) return fail(r, PE_WIRE_ERR_INDEX, rd16(p), main_graph(a)->n_inputs);
  off = rd32(p + 4);
  len = n - 8;
  bytes = a->model.tensors[t].bytes;
  if (off > bytes || len > bytes - off) return fail(r, PE_WIRE_ERR_INDEX, off + len, bytes);
  memcpy((uint8_t *)pe_tensor_data(&a->it, (uint32_t)t) + off, p + 8, len);
  return PE_WIRE_OK;
}

static uint32_t cmd_invoke(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  uint32_t runs, k;
  uint64_t t0 = 0, t1 = 0;
  if (n != 4) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 4);
  runs = rd32(p);
  if (runs == 0) return fail(r, PE_WIRE_ERR_PAYLOAD, 0, 1);
  if (!a->loaded) return fail(r, PE_WIRE_ERR_NO_MODEL, 0, 0);
  memset(a->ticks, 0, 8u * a->model.hdr->n_ops);
  if (a->c.clock) t0 = a->c.clock(a->c.clock_user);
  for (k = 0; k < runs; k++) {
    pe_status st = pe_invoke(&a->it);
    if (st != PE_OK) return fail(r, PE_WIRE_ERR_INVOKE, (uint32_t)st, (uint32_t)a->it.err_op);
    a->invokes++;
  }
  if (a->c.clock) t1 = a->c.clock(a->c.clock_user);
  wr32(room(r, 4), runs);
  wr64(room(r, 8), t1 - t0);
  return PE_WIRE_OK;
}

static uint32_t cmd_get_output(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  int32_t t;
  uint32_t off, len, bytes;
  if (n != 12) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 12);
  if (!a->loaded) return fail(r, PE_WIRE_ERR_NO_MODEL, 0, 0);
  t = io_tensor(a, 1, rd16(p));
  if (t < 0) return fail(r, PE_WIRE_ERR_INDEX, rd16(p), main_graph(a)->n_outputs);
  off = rd32(p + 4);
  len = rd32(p + 8);
  bytes = a->model.tensors[t].bytes;
  if (off > bytes) return fail(r, PE_WIRE_ERR_INDEX, off, bytes);
  if (len > bytes - off) len = bytes - off;
  if (len > a->c.max_payload) len = a->c.max_payload;
  memcpy(room(r, len), (const uint8_t *)pe_tensor_data(&a->it, (uint32_t)t) + off, len);
  return PE_WIRE_OK;
}

static uint32_t cmd_get_profile(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  uint32_t first, k, count = 0, n_ops;
  uint8_t *count_at;
  if (n != 4) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 4);
  if (!a->loaded) return fail(r, PE_WIRE_ERR_NO_MODEL, 0, 0);
  first = rd32(p);
  n_ops = a->model.hdr->n_ops;
  if (first > n_ops) return fail(r, PE_WIRE_ERR_INDEX, first, n_ops);
  wr32(room(r, 4), n_ops);
  wr32(room(r, 4), first);
  count_at = room(r, 2);
  for (k = first; k < n_ops; k++) {
    const char *v = pe_op_variant(&a->it, k);
    uint32_t len = v ? (uint32_t)strlen(v) : 0;
    if (len > 255) len = 255;
    if (r->n + 11 + len > a->c.max_payload) break;
    wr64(room(r, 8), a->ticks[k]);
    wr16(room(r, 2), a->model.ops[k].op);
    *room(r, 1) = (uint8_t)len;
    memcpy(room(r, len), v, len);
    count++;
  }
  wr16(count_at, count);
  return PE_WIRE_OK;
}

static uint32_t cmd_get_stats(pe_agent *a, const uint8_t *p, uint32_t n, reply *r) {
  (void)p;
  if (n != 0) return fail(r, PE_WIRE_ERR_PAYLOAD, n, 0);
  if (!a->loaded) return fail(r, PE_WIRE_ERR_NO_MODEL, 0, 0);
  wr32(room(r, 4), a->arena_bytes);
  wr32(room(r, 4), high_water(a));
  wr32(room(r, 4), a->c.arena_cap);
  wr32(room(r, 4), align_up(a->arena_bytes) + 8u * a->model.hdr->n_ops);
  wr32(room(r, 4), a->model.size);
  wr32(room(r, 4), a->c.blob_cap);
  wr32(room(r, 4), a->invokes);
  return PE_WIRE_OK;
}

static void handle(pe_agent *a, const uint8_t *f, uint32_t n) {
  uint32_t seq = rd16(f + 4), code = f[6], status;
  uint32_t crc = rd32(f + PE_WIRE_HEADER + n);
  const uint8_t *p = f + PE_WIRE_HEADER;
  reply r;
  if ((int32_t)seq == a->last_seq && crc == a->last_crc && a->tx_len > 0) {
    /* a retransmission: answer it again without running it again */
    a->duplicates++;
    a->c.write(a->c.io_user, a->c.tx_buf, a->tx_len);
    return;
  }
  r.a = a;
  r.p = a->c.tx_buf + PE_WIRE_HEADER;
  r.n = 0;
  switch (code) {
    case PE_CMD_HELLO: status = cmd_hello(a, p, n, &r); break;
    case PE_CMD_UPLOAD_BEGIN: status = cmd_upload_begin(a, p, n, &r); break;
    case PE_CMD_UPLOAD_CHUNK: status = cmd_upload_chunk(a, p, n, &r); break;
    case PE_CMD_UPLOAD_END: status = cmd_upload_end(a, p, n, &r); break;
    case PE_CMD_LOAD: status = cmd_load(a, p, n, &r); break;
    case PE_CMD_SET_INPUT: status = cmd_set_input(a, p, n, &r); break;
    case PE_CMD_INVOKE: status = cmd_invoke(a, p, n, &r); break;
    case PE_CMD_GET_OUTPUT: status = cmd_get_output(a, p, n, &r); break;
    case PE_CMD_GET_PROFILE: status = cmd_get_profile(a, p, n, &r); break;
    case PE_CMD_GET_STATS: status = cmd_get_stats(a, p, n, &r); break;
    case PE_CMD_RESET:
      status = n == 0 ? PE_WIRE_OK : fail(&r, PE_WIRE_ERR_PAYLOAD, n, 0);
      break;
    default: status = fail(&r, PE_WIRE_ERR_COMMAND, code, 0); break;
  }
  a->last_seq = (int32_t)seq;
  a->last_crc = crc;
  a->answered++;
  send_frame(a, seq, code | PE_WIRE_RESPONSE, status, r.n);
  if (code == PE_CMD_RESET && status == PE_WIRE_OK) {
    a->loaded = 0;
    a->up_state = UP_NONE;
    a->invokes = 0;
  }
}

/* ---- framing ------------------------------------------------------------------------------ */

static void nak(pe_agent *a, uint32_t seq) {
  a->naked++;
  send_frame(a, seq, PE_WIRE_NAK, PE_WIRE_ERR_FRAME, 0);
  a->tx_len = 0; /* a NAK is never a cached answer */
}

static void drop(pe_agent *a, uint32_t k) {
  memmove(a->c.rx_buf, a->c.rx_buf + k, a->rx_len - k);
  a->rx_len -= k;
}

/* Handle every complete frame at the start of rx_buf; resynchronise on the magic. */
static void parse(pe_agent *a) {
  uint8_t *b = a->c.rx_buf;
  for (;;) {
    uint32_t k = 0, len;
    while (k < a->rx_len && !(b[k] == PE_WIRE_MAGIC0 && (k + 1 == a->rx_len || b[k + 1] == PE_WIRE_MAGIC1))) k++;
    if (k) drop(a, k);
    if (a->rx_len < PE_WIRE_HEADER) return;
    len = rd16(b + 2);
    if (len > a->c.max_payload) {
      nak(a, rd16(b + 4));
      drop(a, 1);
      continue;
    }
    if (a->rx_len < PE_WIRE_HEADER + len + PE_WIRE_TRAILER) return;
    if (pe_crc32(b, PE_WIRE_HEADER + len) != rd32(b + PE_WIRE_HEADER + len)) {
      nak(a, rd16(b + 4));
      drop(a, 1);
      continue;
    }
    handle(a, b, len);
    drop(a, PE_WIRE_HEADER + len + PE_WIRE_TRAILER);
  }
}

void pe_agent_feed(pe_agent *a, const uint8_t *data, uint32_t n) {
  while (n > 0) {
    uint32_t take = a->frame_cap - a->rx_len;
    if (take > n) take = n;
    memcpy(a->c.rx_buf + a->rx_len, data, take);
    a->rx_len += take;
    data += take;
    n -= take;
    parse(a);
  }
}

void pe_agent_idle(pe_agent *a) { a->rx_len = 0; }

int32_t pe_agent_serve(pe_agent *a) {
  uint8_t buf[512];
  if (a->c.read == NULL) return -1;
  for (;;) {
    int32_t got = a->c.read(a->c.io_user, buf, sizeof buf, PE_AGENT_IDLE_MS);
    if (got < 0) {
      a->rx_len = 0; /* a partial frame from a closed link is dropped */
      return got;
    }
    if (got == 0) pe_agent_idle(a);
    else pe_agent_feed(a, buf, (uint32_t)got);
  }
}

int32_t pe_byte_sink_write(void *user, const uint8_t *data, uint32_t n) {
  pe_byte_sink *s = (pe_byte_sink *)user;
  uint32_t room_left = s->cap - s->len, k = n < room_left ? n : room_left;
  memcpy(s->buf + s->len, data, k);
  s->len += k;
  s->overflow += n - k;
  return (int32_t)n;
}
