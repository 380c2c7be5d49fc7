/* Thread pool for pe_interp's parallel_for (hosted builds only). */
#include "pe_platform.h"

#include <pthread.h>
#include <stdlib.h>

#define PE_POOL_MAX 64
#define PE_POOL_SPIN 200000

struct pe_pool {
  uint32_t n_threads;
  pthread_t workers[PE_POOL_MAX];
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  /* the current job */
  pe_task_fn fn;
  void *task;
  uint32_t n;
  uint32_t next;       /* next item to run (atomic) */
  uint32_t generation; /* bumped per job (atomic) */
  uint32_t busy;       /* workers still in the current job (atomic) */
  uint32_t sleeping;   /* workers waiting on `wake` (under mu) */
  uint32_t stop;
};

typedef struct {
  pe_pool *pool;
  uint32_t index;
} worker_arg;


static void run_items(pe_pool *p, uint32_t thread) {
  for (;;) {
    const uint32_t i = __atomic_fetch_add(&p->next, 1u, __ATOMIC_ACQ_REL);
    if (i >= p->n) break;
    p->fn(p->task, i, thread);
  }
}

static void *worker_main(void *arg) {
  pe_pool *p = ((worker_arg *)arg)->pool;
  const uint32_t index = ((worker_arg *)arg)->index;
  uint32_t seen = 0;
  free(arg);
  for (;;) {
    uint32_t g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
    long spin = 0;
    while (g == seen && spin < PE_POOL_SPIN && !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      ++spin;
      g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
    }
    if (g == seen) {
      pthread_mutex_lock(&p->mu);
      p->sleeping++;
      while ((g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE)) == seen && !p->stop)
        pthread_cond_wait(&p->wake, &p->mu);
      p->sleeping--;
      pthread_mutex_unlock(&p->mu);
    }
    if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) return NULL;
    seen = g;
    run_items(p, index);
    if (__atomic_sub_fetch(&p->busy, 1u, __ATOMIC_ACQ_REL) == 0) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

pe_pool *pe_pool_new(uint32_t n_threads) {
  pe_pool *p;
  uint32_t i;
  if (n_threads < 1) n_threads = 1;
  if (n_threads > PE_POOL_MAX) n_threads = PE_POOL_MAX;
  p = (pe_pool *)calloc(1, sizeof(*p));
  if (p == NULL) return NULL;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  p->n_threads = 1;
  for (i = 1; i < n_threads; ++i) {
    worker_arg *a = (worker_arg *)malloc(sizeof(*a));
    if (a == NULL) break;
    a->pool = p;
    a->index = i;
    if (pthread_create(&p->workers[i], NULL, worker_main, a) != 0) {
      free(a);
      break;
    }
    p->n_threads++;
  }
  return p;
}

void pe_pool_free(pe_pool *p) {
  uint32_t i;
  if (p == NULL) return;
  pthread_mutex_lock(&p->mu);
  __atomic_store_n(&p->stop, 1u, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (i = 1; i < p->n_threads; ++i) pthread_join(p->workers[i], NULL);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

uint32_t pe_pool_threads(const pe_pool *p) { return p != NULL ? p->n_threads : 1; }

void pe_pool_parallel_for(void *pool, pe_task_fn fn, void *task, uint32_t n) {
  pe_pool *p = (pe_pool *)pool;
  uint32_t i;
  if (p == NULL || p->n_threads < 2 || n < 2) {
    for (i = 0; i < n; ++i) fn(task, i, 0);
    return;
  }
  p->fn = fn;
  p->task = task;
  p->n = n;
  __atomic_store_n(&p->next, 0u, __ATOMIC_RELEASE);
  __atomic_store_n(&p->busy, p->n_threads - 1, __ATOMIC_RELEASE);
  pthread_mutex_lock(&p->mu);
  __atomic_add_fetch(&p->generation, 1u, __ATOMIC_ACQ_REL);
  if (p->sleeping) pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  run_items(p, 0);
  /* wait for the workers to leave this job (short: spin, then sleep) */
  for (i = 0; i < PE_POOL_SPIN && __atomic_load_n(&p->busy, __ATOMIC_ACQUIRE) != 0; ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  if (__atomic_load_n(&p->busy, __ATOMIC_ACQUIRE) != 0) {
    pthread_mutex_lock(&p->mu);
    while (__atomic_load_n(&p->busy, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
}
