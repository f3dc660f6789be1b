/* Thread pool: workers spin briefly on a generation counter (a parallel loop
 * usually follows another within microseconds), then sleep on a condvar. */
#include "pool.h"

#include "facerec/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <immintrin.h>

#define SPIN_ROUNDS 20000

struct worker {
    struct fr_pool *pool;
    pthread_t th;
    int tid;
};

struct fr_pool {
    int n_threads;
    struct worker *workers;          /* n_threads - 1 */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;                 /* bumped for each job */
    atomic_int stop;
    /* the current job */
    fr_pool_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next;
    atomic_int done;                 /* tasks finished */
    atomic_int active;               /* workers inside the job */
};

static void run_tasks(struct fr_pool *p, int tid) {
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks) break;
        p->fn(p->arg, t, tid);
        atomic_fetch_add(&p->done, 1);
    }
}

/* A worker counts itself active before it reads gen, and the caller writes a
 * new job only when no worker is active, so a worker never sees half a job. */
static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct fr_pool *p = w->pool;
    unsigned seen = atomic_load(&p->gen);
    int spins = 0;
    for (;;) {
        atomic_fetch_add(&p->active, 1);
        unsigned g = atomic_load(&p->gen);
        if (g != seen) {
            seen = g;
            run_tasks(p, w->tid);
            atomic_fetch_sub(&p->active, 1);
            spins = 0;
            continue;
        }
        atomic_fetch_sub(&p->active, 1);
        if (atomic_load(&p->stop)) return NULL;
        if (++spins < SPIN_ROUNDS) { _mm_pause(); continue; }
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
            pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        spins = 0;
    }
}

int fr_pool_new(int n_threads, struct fr_pool **pool_out) {
    *pool_out = NULL;
    if (n_threads < 1 || n_threads > 256)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "threads must be 1..256, not %d", n_threads);
    struct fr_pool *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    p->n_threads = 1;            /* counts the threads that exist: free joins n_threads - 1 */
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (n_threads > 1) {
        p->workers = fr_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) { fr_pool_free(p); return -FR_E_NOMEM; }
        for (int i = 0; i < n_threads - 1; i++) {
            struct worker *w = &p->workers[i];
            w->pool = p;
            w->tid = i + 1;
            if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
                fr_pool_free(p);
                return fr_err_set(FR_E_INTERNAL_ERROR, "cannot start thread %d", i + 1);
            }
            p->n_threads = i + 2;
        }
    }
    *pool_out = p;
    return 0;
}

void fr_pool_free(struct fr_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads - 1; i++) pthread_join(p->workers[i].th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    fr_free(p->workers);
    fr_free(p);
}

int fr_pool_threads(const struct fr_pool *p) { return p ? p->n_threads : 1; }

void fr_pool_for(struct fr_pool *p, int n_tasks, fr_pool_fn fn, void *arg) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    /* Wait for stragglers of the previous job to leave before reusing fields. */
    while (atomic_load(&p->active) > 0) _mm_pause();
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->done, 0);
    atomic_store(&p->next, 0);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    while (atomic_load(&p->done) < n_tasks) _mm_pause();
}
