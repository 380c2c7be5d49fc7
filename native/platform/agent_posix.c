/* pyedge-agent: the device agent on Linux/POSIX, reached over TCP or a serial device.
 *
 *   pyedge-agent --listen PORT [--bind ADDR]     one client at a time; state survives reconnects
 *   pyedge-agent --serial /dev/ttyGS0 [--baud N]
 *   common: --board NAME --blob-bytes N --arena-bytes N --max-payload N --once
 *
 * With --listen 0 the kernel picks the port; the program prints "listening on ADDR:PORT" first. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pe_agent.h"
#include "pe_platform.h"

typedef struct {
  int fd;
} link_fd;

static int32_t fd_read(void *user, uint8_t *data, uint32_t n, uint32_t timeout_ms) {
  link_fd *l = (link_fd *)user;
  struct pollfd p;
  int r;
  ssize_t got;
  p.fd = l->fd;
  p.events = POLLIN;
  p.revents = 0;
  r = poll(&p, 1, (int)timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : -1;
  if (r == 0) return 0;
  got = read(l->fd, data, n);
  if (got > 0) return (int32_t)got;
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  return -1; /* 0 bytes after POLLIN: the peer closed */
}

static int32_t fd_write(void *user, const uint8_t *data, uint32_t n) {
  link_fd *l = (link_fd *)user;
  uint32_t done = 0;
  while (done < n) {
    ssize_t w = write(l->fd, data + done, n - done);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    done += (uint32_t)w;
  }
  return (int32_t)n;
}

static void *aligned(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, 64, n ? n : 1) != 0) return NULL;
  return p;
}

static speed_t baud_of(long b) {
  switch (b) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 230400: return B230400;
#ifdef B460800
    case 460800: return B460800;
#endif
#ifdef B921600
    case 921600: return B921600;
#endif
    default: return B115200;
  }
}

static int open_serial(const char *path, long baud) {
  struct termios t;
  int fd = open(path, O_RDWR | O_NOCTTY);
  if (fd < 0) return -1;
  if (tcgetattr(fd, &t) == 0) {
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
    t.c_oflag &= ~(tcflag_t)OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB);
    t.c_cflag |= CS8 | CREAD | CLOCAL;
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, baud_of(baud));
    cfsetospeed(&t, baud_of(baud));
    tcsetattr(fd, TCSANOW, &t);
  }
  return fd;
}

static void usage(void) {
  fprintf(stderr,
          "usage: pyedge-agent (--listen PORT [--bind ADDR] | --serial DEVICE [--baud N]) [--board NAME]\n"
          "                    [--blob-bytes N] [--arena-bytes N] [--max-payload N] [--once]\n");
}

static int parse_size(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  unsigned long v = strtoul(s, &end, 0);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  const char *bind_addr = "127.0.0.1", *serial_path = NULL, *board = "host";
  long port = -1, baud = 115200;
  unsigned long blob_bytes = 64ul << 20, arena_bytes = 64ul << 20, max_payload = 16384;
  int once = 0, i;
  pe_agent_config c;
  pe_agent *a;
  link_fd l;
  pe_status st;

  for (i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned long n;
    if (strcmp(o, "--once") == 0) {
      once = 1;
      continue;
    }
    if (v == NULL) {
      fprintf(stderr, "pyedge-agent: %s needs a value\n", o);
      usage();
      return 2;
    }
    i++;
    if (strcmp(o, "--listen") == 0 && parse_size(v, 0, 65535, &n) == 0) port = (long)n;
    else if (strcmp(o, "--bind") == 0) bind_addr = v;
    else if (strcmp(o, "--serial") == 0) serial_path = v;
    else if (strcmp(o, "--baud") == 0 && parse_size(v, 1, 4000000, &n) == 0) baud = (long)n;
    else if (strcmp(o, "--board") == 0) board = v;
    else if (strcmp(o, "--blob-bytes") == 0 && parse_size(v, 128, 0xFFFFFFF0ul, &n) == 0) blob_bytes = n;
    else if (strcmp(o, "--arena-bytes") == 0 && parse_size(v, 16, 0xFFFFFFF0ul, &n) == 0) arena_bytes = n;
    else if (strcmp(o, "--max-payload") == 0 && parse_size(v, 64, 65535, &n) == 0) max_payload = n;
    else {
      fprintf(stderr, "pyedge-agent: bad option or value: %s %s\n", o, v);
      usage();
      return 2;
    }
  }
  if ((port < 0) == (serial_path == NULL)) {
    fprintf(stderr, "pyedge-agent: give exactly one of --listen PORT or --serial DEVICE\n");
    usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  memset(&c, 0, sizeof c);
  c.board = board;
  c.features = pe_detect_features();
  c.blob_mem = (uint8_t *)aligned(blob_bytes);
  c.blob_cap = (uint32_t)blob_bytes;
  c.arena_mem = (uint8_t *)aligned(arena_bytes);
  c.arena_cap = (uint32_t)arena_bytes;
  c.max_payload = (uint32_t)max_payload;
  c.rx_buf = (uint8_t *)aligned(PE_WIRE_HEADER + max_payload + PE_WIRE_TRAILER);
  c.tx_buf = (uint8_t *)aligned(PE_WIRE_HEADER + max_payload + PE_WIRE_TRAILER);
  c.write = fd_write;
  c.read = fd_read;
  c.clock = pe_clock_ns;
  c.clock_hz = 1000000000u;
  c.counter_kind = PE_COUNTER_NS;
  c.hello_flags = PE_HELLO_RAM_ONLY; /* the process's memory: a restart forgets the model */
  c.io_user = &l;
  a = (pe_agent *)aligned(pe_agent_size());
  if (!c.blob_mem || !c.arena_mem || !c.rx_buf || !c.tx_buf || !a) {
    fprintf(stderr, "pyedge-agent: out of memory (blob %lu, arena %lu bytes)\n", blob_bytes, arena_bytes);
    return 1;
  }
  st = pe_agent_init(a, &c);
  if (st != PE_OK) {
    fprintf(stderr, "pyedge-agent: agent init failed: %s\n", pe_status_str(st));
    return 1;
  }

  if (serial_path != NULL) {
    l.fd = open_serial(serial_path, baud);
    if (l.fd < 0) {
      fprintf(stderr, "pyedge-agent: cannot open %s: %s\n", serial_path, strerror(errno));
      return 1;
    }
    printf("serving on %s\n", serial_path);
    fflush(stdout);
    do {
      struct timespec pause = {0, 100000000L}; /* a hung-up tty reads as closed at once */
      pe_agent_serve(a);
      if (!once) nanosleep(&pause, NULL);
    } while (!once);
    close(l.fd);
    return 0;
  } else {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int one = 1, srv = socket(AF_INET, SOCK_STREAM, 0);
    if (srv < 0) {
      perror("pyedge-agent: socket");
      return 1;
    }
    setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
      fprintf(stderr, "pyedge-agent: --bind %s is not an IPv4 address\n", bind_addr);
      return 2;
    }
    if (bind(srv, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(srv, 1) != 0) {
      fprintf(stderr, "pyedge-agent: cannot listen on %s:%ld: %s\n", bind_addr, port, strerror(errno));
      return 1;
    }
    getsockname(srv, (struct sockaddr *)&sa, &len);
    printf("listening on %s:%u\n", bind_addr, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    do {
      int cl = accept(srv, NULL, NULL);
      if (cl < 0) {
        if (errno == EINTR) continue;
        perror("pyedge-agent: accept");
        return 1;
      }
      setsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      l.fd = cl;
      pe_agent_serve(a); /* until the client closes; the agent keeps its model and upload */
      close(cl);
    } while (!once);
    close(srv);
  }
  return 0;
}
