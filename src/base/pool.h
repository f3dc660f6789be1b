/* A fixed pool of worker threads for intra-op parallel loops.
 *
 * fr_pool_for() runs fn(arg, task, tid) for task in [0, n_tasks) on the
 * caller plus the pool's workers and returns when all are done. tid is in
 * [0, fr_pool_threads(pool)) and is stable for the call, so a task may use a
 * per-thread scratch slice. A NULL pool runs everything on the caller. One
 * pool serves one caller at a time (each inference session owns its pool). */
#ifndef FR_BASE_POOL_H
#define FR_BASE_POOL_H

struct fr_pool;
typedef void (*fr_pool_fn)(void *arg, int task, int tid);

int fr_pool_new(int n_threads, struct fr_pool **pool_out);
void fr_pool_free(struct fr_pool *pool);
int fr_pool_threads(const struct fr_pool *pool);   /* 1 for NULL */
void fr_pool_for(struct fr_pool *pool, int n_tasks, fr_pool_fn fn, void *arg);

#endif
