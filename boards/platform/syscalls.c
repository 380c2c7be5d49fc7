/*
 * The newlib system calls a firmware's printf needs: stdout and stderr go to the UART, the heap
 * is the space between .bss and the stack (linker symbols __heap_start__ / __heap_end__), exit
 * is semihosting. Nothing else is there: every other call fails with ENOSYS-like results.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/stat.h>

#include "pe_platform.h"

extern uint8_t __heap_start__, __heap_end__;

int _write(int fd, const char *buf, int n);
int _read(int fd, char *buf, int n);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int off, int whence);
void *_sbrk(int incr);
void _exit(int code);
int _kill(int pid, int sig);
int _getpid(void);
void pe_plat_before_exit(void);

void pe_plat_before_exit(void) {
  fflush(stdout);
  fflush(stderr);
}

int _write(int fd, const char *buf, int n) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  pe_plat_uart_write(buf, (size_t)n);
  return n;
}

int _read(int fd, char *buf, int n) {
  (void)fd;
  (void)buf;
  (void)n;
  return 0;
}

int _close(int fd) {
  (void)fd;
  return -1;
}

int _fstat(int fd, struct stat *st) {
  (void)fd;
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _lseek(int fd, int off, int whence) {
  (void)fd;
  (void)off;
  (void)whence;
  return 0;
}

void *_sbrk(int incr) {
  static uint8_t *brk = &__heap_start__;
  uint8_t *prev = brk;
  if (incr < 0 || (size_t)(&__heap_end__ - brk) < (size_t)incr) {
    errno = ENOMEM;
    return (void *)-1;
  }
  brk += incr;
  return prev;
}

void _exit(int code) { pe_plat_exit(code); }

int _kill(int pid, int sig) {
  (void)pid;
  (void)sig;
  errno = EINVAL;
  return -1;
}

int _getpid(void) { return 1; }
