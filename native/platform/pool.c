/* Thread pool for pe_interp's parallel_for (hosted builds only). */
#include "pe_platform.h"

#include <pthread.h>
#include <stdlib.h>

#define PE_POOL_MAX 64
/* Spin iterations (pause) before sleeping: about 30 us, longer than the gap between two ops,
   short enough not to take a core from other processes when the CPU is shared (spinning 100x
   longer doubled MobileNetV2's 2-thread latency with a busy process on one of 2 cores). */
#define PE_POOL_SPIN 2000

/* Jobs are claimed item by item from one 64-bit word, (generation << 32) | next item, so a
   worker only ever runs items of the job it claimed them from, and the caller waits for the
   job's items to finish, never for workers to notice the job: a worker the OS has not
   scheduled (another process on its core) costs nothing, the caller and the other workers take
   its share. Two job slots alternate, so a late worker that read the previous job's generation
   finds its claim refused instead of reading a half-written job. */
struct pe_pool {
  uint32_t n_threads;
  pthread_t workers[PE_POOL_MAX];
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pe_task_fn fn[2];
  void *task[2];
  uint32_t n[2];
  uint64_t claim;      /* (generation << 32) | next item (atomic) */
  uint32_t completed;  /* items of the current job finished (atomic) */
  uint32_t generation; /* bumped per job (atomic) */
  uint32_t sleeping;   /* workers waiting on `wake` (under mu) */
  uint32_t stop;
};

typedef struct {
  pe_pool *pool;
  uint32_t index;
} worker_arg;

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
  __asm__ __volatile__("yield");
#endif
}

/* Run items of job `gen` until it has none left or another job replaced it. */
static void run_items(pe_pool *p, uint32_t gen, uint32_t thread) {
  const uint32_t slot = gen & 1u;
  for (;;) {
    uint64_t v = __atomic_load_n(&p->claim, __ATOMIC_ACQUIRE);
    uint32_t i;
    if ((uint32_t)(v >> 32) != gen) return;
    i = (uint32_t)v;
    if (i >= __atomic_load_n(&p->n[slot], __ATOMIC_RELAXED)) return;
    if (!__atomic_compare_exchange_n(&p->claim, &v, v + 1u, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
    {
      /* item i of job gen is ours: the job cannot finish (nor its slot be reused) before it is done */
      const uint32_t n = __atomic_load_n(&p->n[slot], __ATOMIC_RELAXED);
      p->fn[slot](p->task[slot], i, thread);
      if (__atomic_add_fetch(&p->completed, 1u, __ATOMIC_ACQ_REL) != n) continue;
    }
    {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
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
      cpu_relax();
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
    run_items(p, g, index);
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
  uint32_t i, g, slot;
  if (p == NULL || p->n_threads < 2 || n < 2) {
    for (i = 0; i < n; ++i) fn(task, i, 0);
    return;
  }
  /* One caller at a time (the interpreter's thread); the previous job has finished. */
  g = __atomic_load_n(&p->generation, __ATOMIC_RELAXED) + 1u;
  slot = g & 1u;
  p->fn[slot] = fn;
  p->task[slot] = task;
  __atomic_store_n(&p->n[slot], n, __ATOMIC_RELAXED);
  __atomic_store_n(&p->completed, 0u, __ATOMIC_RELEASE);
  __atomic_store_n(&p->claim, (uint64_t)g << 32, __ATOMIC_RELEASE);
  pthread_mutex_lock(&p->mu);
  __atomic_store_n(&p->generation, g, __ATOMIC_RELEASE);
  if (p->sleeping) pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  run_items(p, g, 0);
  /* wait for the items others claimed (short: spin, then sleep) */
  for (i = 0; i < PE_POOL_SPIN && __atomic_load_n(&p->completed, __ATOMIC_ACQUIRE) != n; ++i) cpu_relax();
  if (__atomic_load_n(&p->completed, __ATOMIC_ACQUIRE) != n) {
    pthread_mutex_lock(&p->mu);
    while (__atomic_load_n(&p->completed, __ATOMIC_ACQUIRE) != n) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
}
