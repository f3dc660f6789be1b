/* Thread pool: workers spin briefly on a generation counter (a parallel loop
 * usually follows another within microseconds), then sleep on a condvar.
 *
 * Jobs are double-buffered: job g lives in slot g & 1. A spinning worker only
 * reads `gen`; to join job g it counts itself into active[g & 1] and then
 * checks gen is still g (else it backs out untouched). The caller writes job
 * g + 2 into that slot only once active[slot] is zero, so a worker never sees
 * half a job, and a worker preempted while spinning never holds the caller. */
#include "pool.h"

#include "facerec/base.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define SPIN_ROUNDS 500     /* worker: pauses before sleeping */
#define WAIT_SPINS 4000       /* caller: pauses before yielding the core */

struct worker {
    struct fr_pool *pool;
    pthread_t th;
    int tid;
};

struct job {
    fr_pool_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next;
    atomic_int done;
};

struct fr_pool {
    int n_threads;
    struct worker *workers;          /* n_threads - 1 */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;                 /* the current job's generation */
    atomic_int stop;
    struct job job[2];
    atomic_int active[2];            /* workers inside the job of each slot */
    atomic_int sleepers;             /* workers waiting on cv */
};

static void run_tasks(struct job *j, int tid) {
    for (;;) {
        int t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_tasks) break;
        j->fn(j->arg, t, tid);
        atomic_fetch_add(&j->done, 1);
    }
}

static void wait_while(atomic_int *v, int above) {
    for (int spins = 0; atomic_load(v) > above; spins++) {
        if (spins < WAIT_SPINS) _mm_pause();
        else sched_yield();
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct fr_pool *p = w->pool;
    /* the pool's threads only run the engine's work: denormals off for good
     * (include/facerec/base.h, fr_fp_flush_denormals) */
    (void)fr_fp_flush_denormals();
    unsigned seen = atomic_load(&p->gen);
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop)) {
            if (++spins < SPIN_ROUNDS) { _mm_pause(); continue; }
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        int slot = (int)(g & 1);
        atomic_fetch_add(&p->active[slot], 1);
        if (atomic_load(&p->gen) == g) {
            seen = g;
            run_tasks(&p->job[slot], w->tid);
        }
        atomic_fetch_sub(&p->active[slot], 1);
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
    unsigned g = atomic_load(&p->gen) + 1;
    int slot = (int)(g & 1);
    struct job *j = &p->job[slot];
    wait_while(&p->active[slot], 0);        /* stragglers of job g - 2 */
    j->fn = fn;
    j->arg = arg;
    j->n_tasks = n_tasks;
    atomic_store(&j->done, 0);
    atomic_store(&j->next, 0);
    atomic_store(&p->gen, g);
    /* a sleeper counts itself under the mutex before it re-checks gen, so
     * either it sees the new gen or we see it and wake it */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    run_tasks(j, 0);
    /* a worker may have been preempted holding a task: after a short spin,
     * give up the core rather than burn the timeslice waiting */
    for (int spins = 0; atomic_load(&j->done) < n_tasks; spins++) {
        if (spins < WAIT_SPINS) _mm_pause();
        else sched_yield();
    }
}
