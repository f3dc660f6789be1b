/* facerec — base: errors, allocation, logging.
 *
 * Every fallible function returns 0 on success and -FR_E_x on failure. The
 * error list below is the single source of the enum, the JSON "code" names,
 * the error types, the HTTP statuses and the messages. Only append to it;
 * clients parse the names. */
#ifndef FACEREC_BASE_H
#define FACEREC_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FR_API __attribute__((visibility("default")))

/*          name                 http  error_type                  message */
#define FR_ERR_MAP(X) \
    X(OK,                        200, "",                         "success") \
    X(INTERNAL_ERROR,            500, "internal_error",           "internal error") \
    X(NOMEM,                     503, "service_unavailable",      "out of memory") \
    X(IO,                        500, "internal_error",           "input/output error") \
    X(INVALID_ARGUMENT,          400, "validation_error",         "invalid argument") \
    X(LIMIT_EXCEEDED,            413, "validation_error",         "a size limit was exceeded") \
    X(MODEL_INVALID,             500, "model_error",              "model file is malformed") \
    X(MODEL_UNSUPPORTED,         500, "model_error",              "model uses an unsupported operator or type") \
    X(MODEL_MISMATCH,            500, "model_error",              "model file does not match its checksum") \
    X(PHOTO_FILE_REQUIRED,       400, "validation_error",         "a photo file is required") \
    X(INVALID_FILE_FORMAT,       400, "validation_error",         "the file is not a supported image") \
    X(FILE_TOO_LARGE,            413, "validation_error",         "the file is too large") \
    X(NO_FACE_IN_PHOTO,          400, "face_detection_error",     "no face detected in photo") \
    X(MULTIPLE_FACES_DETECTED,   400, "face_detection_error",     "more than one face detected in photo") \
    X(LOW_QUALITY_FACE,          400, "quality_error",            "face quality too low") \
    X(SPOOF_DETECTED,            400, "liveness_error",           "the face did not pass the liveness check") \
    X(SUBJECT_NOT_FOUND,         404, "not_found_error",          "subject not found") \
    X(SESSION_ALREADY_EXISTS,    409, "conflict_error",           "session already exists") \
    X(CONFLICT,                  409, "conflict_error",           "the value is already taken") \
    X(SESSION_NOT_FOUND,         404, "not_found_error",          "session not found") \
    X(ALL_CAMERAS_FAILED,        502, "camera_error",             "all cameras failed") \
    X(STOP_SESSION_FAILED,       500, "internal_error",           "the session could not be stopped") \
    X(RATE_LIMITED,              429, "rate_limit_error",         "rate limit exceeded") \
    X(UNAUTHORIZED,              401, "authentication_error",     "missing or invalid credentials") \
    X(VALIDATION_ERROR,          422, "validation_error",         "request validation failed") \
    X(SERVICE_UNAVAILABLE,       503, "service_unavailable",      "a dependency is unavailable") \
    X(IMAGE_PROCESSING_FAILED,   422, "image_processing_error",   "image processing failed") \
    X(NOT_FOUND,                 404, "not_found_error",          "not found")

enum fr_err {
#define X(n, h, t, m) FR_E_##n,
    FR_ERR_MAP(X)
#undef X
    FR_E_COUNT,
    FR_E__SIGNED = -1      /* keeps the enum signed, so -FR_E_x is negative */
};

FR_API const char *fr_strerror(int err);   /* never NULL; takes err or -err */
FR_API const char *fr_err_name(int err);   /* "NO_FACE_IN_PHOTO": the JSON code */
FR_API const char *fr_err_type(int err);   /* "face_detection_error" */
FR_API int fr_err_http_status(int err);

/* Detail of the last error on this thread ("" if none): a human sentence that
 * says what failed, e.g. "node 12 (Conv): kernel 3x3 larger than padded input".
 * It is for people (and logs): never read meaning out of it. What a program
 * needs to act on travels as data: the code, and at most one structured
 * detail, a key and its value ("field" and the request field at fault,
 * "model" and the model file at fault), which the API puts in "details".
 *
 * fr_err_set(FR_E_x, ...) takes the positive code and returns -FR_E_x, so
 * `return fr_err_set(FR_E_NOT_FOUND, "subject %lld", id);` reads as what it
 * does; it clears the structured detail. fr_err_set_at sets both. */
FR_API const char *fr_err_detail(void);
FR_API int fr_err_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
FR_API int fr_err_set_at(int err, const char *key, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
FR_API const char *fr_err_key(void);       /* "" when the last error has no structured detail */
FR_API const char *fr_err_value(void);
FR_API void fr_err_clear(void);

/* Allocation: all memory goes through these, so it is counted and a test can
 * make the N-th allocation fail. fr_free(NULL) does nothing. */
FR_API void *fr_malloc(size_t n);
FR_API void *fr_calloc(size_t n, size_t size);
FR_API void *fr_realloc(void *p, size_t n);
FR_API void *fr_malloc_aligned(size_t n);   /* 64-byte aligned, freed with fr_free */
FR_API char *fr_strdup(const char *s);
FR_API char *fr_strndup(const char *s, size_t n);
FR_API void fr_free(void *p);
FR_API size_t fr_mem_used(void);            /* bytes currently allocated */
/* Make allocation number n (counting from 1 after this call) and every later
 * one fail; n == 0 turns failure injection off. For tests. */
FR_API void fr_alloc_fail_after(long n);
FR_API long fr_alloc_count(void);

/* Programming mistakes abort; runtime failures return codes. */
FR_API _Noreturn void fr_abort(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define FR_ASSERT(x) do { if (!(x)) fr_abort(__FILE__, __LINE__, "assert failed: %s", #x); } while (0)

/* Logging: one JSON object per line on stderr. */
enum fr_log_level { FR_LOG_DEBUG, FR_LOG_INFO, FR_LOG_WARN, FR_LOG_ERROR };
FR_API void fr_log_set_level(int level);
FR_API void fr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "2026-11-23T04:58:12.345Z": the UTC time of a log line. */
FR_API void fr_log_timestamp(char out[32]);
/* The inside of a JSON string (no quotes) for s, written to f. */
FR_API void fr_json_escape(FILE *f, const char *s);

/* Denormal floats. x86 cores compute with subnormal numbers (|x| < 2^-126)
 * in slow microcode: on an Intel Xeon with AVX-512 and AMX fr_feature took
 * 15-25 ms instead of 4-8 ms because some of its activations and weights
 * fall into that range. fr_fp_flush_denormals sets flush-to-zero and
 * denormals-are-zero (MXCSR FTZ | DAZ) on the calling thread and returns the
 * previous state for fr_fp_restore; the engine does this around every model
 * run (and its pool threads keep it on), so callers' threads are left as
 * they were. Elsewhere both do nothing. */
FR_API unsigned fr_fp_flush_denormals(void);
FR_API void fr_fp_restore(unsigned state);

/* Time */
FR_API double fr_time_ms(void);             /* monotonic milliseconds */
/* The wall clock, unix milliseconds (UTC): what rows, rate-limit windows
 * and audit entries are stamped with. */
FR_API int64_t fr_now_ms(void);
/* "YYYY-MM-DD" of a unix-ms time, UTC. */
FR_API void fr_utc_day(int64_t unix_ms, char day_out[11]);

/* CPU features, probed once. FR_ISA env var ("ref", "avx2", "avx512") can
 * lower the choice, e.g. to test the portable kernels on an AVX-512 machine. */
enum fr_isa { FR_ISA_REF = 0, FR_ISA_AVX2 = 1, FR_ISA_AVX512 = 2 };
FR_API int fr_cpu_isa(void);
FR_API const char *fr_isa_name(int isa);
FR_API void fr_cpu_set_isa(int isa);        /* clamp to what the CPU has */

/* Read a whole file, at most max_bytes; *buf_out is fr_free'd by the caller. */
FR_API int fr_file_read(const char *path, size_t max_bytes, uint8_t **buf_out, size_t *len_out);
FR_API int fr_file_write(const char *path, const void *buf, size_t len);

#endif
