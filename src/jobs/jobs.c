/* Background work: periodic tasks and one-off jobs on a few threads of
 * their own (include/facerec/jobs.h).
 *
 * DESIGN. One mutex and one condition variable guard everything: the task
 * table (fixed: tasks are few and registered at start), the job queue (a
 * FIFO list) and the stop flag. Every worker runs the same loop: take the
 * oldest queued job, else the most overdue periodic task that is not
 * already running, else sleep until the next task is due (or a job or stop
 * arrives). A task's next run is scheduled from the end of the current one
 * when it overran its period, so a slow task is delayed, never run twice at
 * once or in a burst to catch up. The clock is fr_time_ms (monotonic): a
 * change of the wall clock moves nothing. */
#include "facerec/jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_TASKS   32
#define MAX_WORKERS 16

struct task {
    char name[64];
    fr_job_fn fn;
    void *arg;
    double period, next;        /* ms, fr_time_ms clock */
    int running;
    int64_t runs;
};

struct job {
    char name[64];
    fr_job_fn fn;
    void *arg;
    struct job *next;
};

struct fr_jobs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th[MAX_WORKERS];
    int n_th, stop;
    struct task task[MAX_TASKS];
    int n_task;
    struct job *head, *tail;
};

/* The most overdue idle task, or NULL; *wait_ms gets the time to the next
 * due idle task (or -1 when none is idle). */
static struct task *due_task(struct fr_jobs *j, double now, double *wait_ms) {
    struct task *best = NULL;
    *wait_ms = -1;
    for (int i = 0; i < j->n_task; i++) {
        struct task *t = &j->task[i];
        if (t->running) continue;
        if (t->next <= now) {
            if (!best || t->next < best->next) best = t;
        } else if (*wait_ms < 0 || t->next - now < *wait_ms) {
            *wait_ms = t->next - now;
        }
    }
    return best;
}

static void timed_wait(struct fr_jobs *j, double ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);    /* pthread_cond_timedwait's clock */
    double s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + ms / 1000.0;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

static void *worker(void *arg) {
    struct fr_jobs *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        if (j->head) {   /* one-off jobs first, oldest first; they still run while stopping */
            struct job *b = j->head;
            j->head = b->next;
            if (!j->head) j->tail = NULL;
            pthread_mutex_unlock(&j->mu);
            b->fn(b->arg);
            fr_free(b);
            pthread_mutex_lock(&j->mu);
            continue;
        }
        if (j->stop) break;
        double now = fr_time_ms(), wait;
        struct task *t = due_task(j, now, &wait);
        if (!t) {
            if (wait < 0) pthread_cond_wait(&j->cv, &j->mu);
            else timed_wait(j, wait);
            continue;
        }
        t->running = 1;
        pthread_mutex_unlock(&j->mu);
        t->fn(t->arg);
        pthread_mutex_lock(&j->mu);
        double end = fr_time_ms();
        t->running = 0;
        t->runs++;
        t->next += t->period;
        if (t->next < end) t->next = end + t->period;   /* overran: delayed, not piled up */
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int fr_jobs_start(int workers, struct fr_jobs **out) {
    if (!out || workers < 1 || workers > MAX_WORKERS)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "jobs: 1 to %d workers", MAX_WORKERS);
    *out = NULL;
    struct fr_jobs *j = fr_calloc(1, sizeof *j);
    if (!j) return -FR_E_NOMEM;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&j->th[i], NULL, worker, j) != 0) {
            fr_jobs_stop(j);
            return fr_err_set(FR_E_INTERNAL_ERROR, "jobs: cannot start worker %d", i);
        }
        j->n_th++;
    }
    *out = j;
    return 0;
}

int fr_jobs_every(struct fr_jobs *j, const char *name, double period_ms, double first_ms, fr_job_fn fn, void *arg) {
    if (!j || !name || !fn || !(period_ms >= 1) || !(first_ms >= 0))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "jobs: a task needs a name, a function, a period >= 1 ms");
    pthread_mutex_lock(&j->mu);
    int rc = 0;
    if (j->stop) rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "jobs: stopping");
    else if (j->n_task == MAX_TASKS) rc = fr_err_set(FR_E_LIMIT_EXCEEDED, "jobs: more than %d tasks", MAX_TASKS);
    if (rc == 0) {
        struct task *t = &j->task[j->n_task++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->fn = fn;
        t->arg = arg;
        t->period = period_ms;
        t->next = fr_time_ms() + first_ms;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int fr_jobs_submit(struct fr_jobs *j, const char *name, fr_job_fn fn, void *arg) {
    if (!j || !fn) return fr_err_set(FR_E_INVALID_ARGUMENT, "jobs: a job needs a function");
    struct job *b = fr_calloc(1, sizeof *b);
    if (!b) return -FR_E_NOMEM;
    snprintf(b->name, sizeof b->name, "%s", name ? name : "job");
    b->fn = fn;
    b->arg = arg;
    pthread_mutex_lock(&j->mu);
    if (j->stop) {
        pthread_mutex_unlock(&j->mu);
        fr_free(b);
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "jobs: stopping");
    }
    if (j->tail) j->tail->next = b;
    else j->head = b;
    j->tail = b;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

int64_t fr_jobs_runs(struct fr_jobs *j, const char *name) {
    int64_t n = -1;
    if (!j || !name) return -1;
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->n_task; i++)
        if (!strcmp(j->task[i].name, name)) n = j->task[i].runs;
    pthread_mutex_unlock(&j->mu);
    return n;
}

void fr_jobs_stop(struct fr_jobs *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->n_th; i++) pthread_join(j->th[i], NULL);
    while (j->head) {   /* only when no worker ever started */
        struct job *b = j->head;
        j->head = b->next;
        fr_free(b);
    }
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    fr_free(j);
}
