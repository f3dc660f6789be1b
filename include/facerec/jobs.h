/* facerec — background work: periodic tasks and a queue of one-off jobs,
 * run by a few worker threads of their own (src/jobs/jobs.c).
 *
 * The service's housekeeping (usage counters to the database, rate-limit
 * windows swept, stored photos past their retention deleted, idempotency
 * keys past a day purged) and, later, the outbox dispatcher and camera
 * sessions run here, not in a signal loop of the command line. The model is
 * redis's serverCron with run_with_period and its bio job queues: a task has
 * a period and its own clock (monotonic milliseconds), and never runs twice
 * at once — a run that outlasts its period delays the next one instead of
 * piling up. One-off jobs run in the order they were queued, as soon as a
 * worker is free.
 *
 * Example:
 *
 *     struct fr_jobs *j;
 *     fr_jobs_start(2, &j);
 *     fr_jobs_every(j, "usage flush", 5000, 5000, flush_usage, api);  // every 5 s, first in 5 s
 *     fr_jobs_every(j, "retention", 60000, 0, purge, store);           // now, then every minute
 *     ...
 *     fr_jobs_stop(j);     // waits for running work; queued one-off jobs still run
 */
#ifndef FACEREC_JOBS_H
#define FACEREC_JOBS_H

#include "facerec/base.h"

#include <stdint.h>

typedef void (*fr_job_fn)(void *arg);
struct fr_jobs;

/* workers: 1 to 16 threads. */
FR_API int fr_jobs_start(int workers, struct fr_jobs **out);
/* Runs fn(arg) every period_ms (>= 1), the first time first_ms (>= 0) from
 * now. name (copied, <= 63 characters) appears in logs and stats. */
FR_API int fr_jobs_every(struct fr_jobs *j, const char *name, double period_ms, double first_ms, fr_job_fn fn,
                         void *arg);
/* Queues one run of fn(arg). -FR_E_SERVICE_UNAVAILABLE once stopping. */
FR_API int fr_jobs_submit(struct fr_jobs *j, const char *name, fr_job_fn fn, void *arg);
/* How often the task called name has run (-1: no such task). */
FR_API int64_t fr_jobs_runs(struct fr_jobs *j, const char *name);
/* Stops taking work, lets running tasks and queued jobs finish, joins the
 * workers and frees everything. NULL does nothing. */
FR_API void fr_jobs_stop(struct fr_jobs *j);

#endif
