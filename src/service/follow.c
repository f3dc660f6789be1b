/* The index follows the database: every node applies the change log
 * (include/facerec/store.h, "the index change log") to its in-memory index,
 * in order, from the head it read before it built the index. Enrolments and
 * deletions made on this node reach its index at once (records.c,
 * recognize.c) and come back through the log as changes already applied:
 * applying is idempotent (an addition already there, a deletion of a row
 * that is gone, change nothing). A node that fell behind the log's purge
 * rebuilds from the faces (fr_service_index_sync). */
#include "service_int.h"

#include <string.h>

#define FOLLOW_WAIT_MS 250          /* one wait for a change; also the longest a stop waits */
#define FOLLOW_BATCH 1000

/* Applies what is new; 0, or the store's error (tried again at the next wake). */
static int follow_once(struct fr_service *s) {
    int64_t purged = 0;
    int rc = fr_store_changes_purged_through(s->store, &purged);
    if (rc < 0) return rc;
    if (purged > s->log_seq) {   /* changes this node never saw are gone: rebuild */
        int64_t head = 0;
        int rebuilt = 0;
        if ((rc = fr_store_changes_head(s->store, &head)) < 0) return rc;
        pthread_mutex_lock(&s->write_mu);
        rc = fr_service_index_sync(s, &rebuilt);
        pthread_mutex_unlock(&s->write_mu);
        if (rc < 0) return rc;
        fr_log(FR_LOG_WARN, "index: the change log was purged past this node's place (%lld < %lld): rebuilt %d "
               "collections from the database", (long long)s->log_seq, (long long)purged, rebuilt);
        s->log_seq = head;
    }
    for (;;) {
        struct fr_store_change *v = NULL;
        size_t n = 0;
        if ((rc = fr_store_changes_since(s->store, s->log_seq, FOLLOW_BATCH, &v, &n)) < 0) return rc;
        pthread_mutex_lock(&s->write_mu);
        for (size_t i = 0; i < n; i++) {
            const struct fr_store_change *c = &v[i];
            if (s->model_id && !strcmp(c->model_id, s->model_id)) {
                if (c->deleted) fr_index_set_remove(s->index, c->client_id, s->model_id, c->face_id);
                else if (c->embedding && c->dim == FR_FACE_EMB_DIM &&
                         fr_index_set_add(s->index, c->client_id, s->model_id, c->face_id, c->subject_id,
                                          c->embedding) == 0)
                    atomic_fetch_add(&s->log_applied, 1);
            }
            s->log_seq = c->seq;
        }
        pthread_mutex_unlock(&s->write_mu);
        fr_store_changes_free(v, n);
        if (n < FOLLOW_BATCH) return 0;
    }
}

static void *follow_main(void *arg) {
    struct fr_service *s = arg;
    int failing = 0;
    while (!atomic_load(&s->follow_stop)) {
        int rc = fr_store_changes_wait(s->store, s->log_seq, FOLLOW_WAIT_MS);
        if (rc > 0) rc = follow_once(s);
        if (rc < 0 && !failing) fr_log(FR_LOG_WARN, "index: the change log cannot be read (%s); retrying", fr_err_detail());
        else if (rc >= 0 && failing) fr_log(FR_LOG_INFO, "index: following the change log again");
        failing = rc < 0;
        if (rc < 0) {   /* the database is away: do not spin */
            struct timespec ts = { 0, FOLLOW_WAIT_MS * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int fr__svc_follow_start(struct fr_service *s) {
    atomic_store(&s->follow_stop, 0);
    if (pthread_create(&s->follower, NULL, follow_main, s) != 0)
        return fr_err_set(FR_E_INTERNAL_ERROR, "cannot start the index follower");
    s->follower_started = 1;
    return 0;
}

void fr__svc_follow_stop(struct fr_service *s) {
    if (!s->follower_started) return;
    atomic_store(&s->follow_stop, 1);
    pthread_join(s->follower, NULL);
    s->follower_started = 0;
}
