/* facerec nn: the inference engine from the command line.
 *   nn info --model M [--json]
 *   nn run --model M --input NAME=FILE.npy [...] --output-dir DIR [--threads N]
 *   nn bench --model M [--threads N] [--iters K] [--warmup W] [--profile]
 *   nn conformance DIR [--filter TEXT] [--quiet]
 *   nn selfcheck DIR */
#include "cli.h"

#include "facerec/nn.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_shape(FILE *f, const struct fr_tensor *t) {
    fputc('[', f);
    for (int i = 0; i < t->ndim; i++) fprintf(f, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    fputc(']', f);
}

/* Per-model input range for generated inputs (the models' own pre-processing). */
static void input_range(const char *model, float *lo, float *hi) {
    *lo = -1.0f;
    *hi = 1.0f;
    if (strstr(model, "fr_liveness")) { *lo = 0.0f; *hi = 255.0f; }
    else if (strstr(model, "fr_landmark") || strstr(model, "fr_eye")) { *lo = 0.0f; *hi = 1.0f; }
    else if (strstr(model, "fr_pose") || strstr(model, "fr_expression")) { *lo = -2.0f; *hi = 2.0f; }
}

/* Allocate and fill the inputs of m with the deterministic pattern (seed 1 + i). */
static int make_inputs(struct fr_nn_model *m, const char *path, struct fr_tensor **in_out) {
    int n = fr_nn_model_n_inputs(m);
    struct fr_tensor *in = calloc((size_t)n + 1, sizeof *in);
    if (!in) return -FR_E_NOMEM;
    float lo, hi;
    input_range(path, &lo, &hi);
    for (int i = 0; i < n; i++) {
        fr_nn_model_input(m, i, &in[i]);
        if (in[i].dtype != FR_DTYPE_FLOAT) {
            free(in);
            return fr_err_set(FR_E_INVALID_ARGUMENT, "input %d is not float32", i);
        }
        in[i].data = fr_malloc_aligned(fr_tensor_bytes(&in[i]));
        if (!in[i].data) return -FR_E_NOMEM;
        fr_nn_fill_pattern(&in[i], 1u + (uint32_t)i, lo, hi);
    }
    *in_out = in;
    return 0;
}

static void free_inputs(struct fr_tensor *in, int n) {
    for (int i = 0; in && i < n; i++) fr_free(in[i].data);
    free(in);
}

static int nn_info(int argc, char **argv) {
    const char *model = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--model"))) model = v;
        else if (!strcmp(argv[i], "--json")) json = 1;
        else { fprintf(stderr, "facerec nn info: unknown option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (!model) { fprintf(stderr, "usage: facerec nn info --model M [--json]\n"); return FR_EXIT_USAGE; }
    struct fr_nn_model *m;
    int rc = fr_nn_model_load(model, NULL, &m);
    if (rc < 0) return fr_cli_err(rc, model);
    struct fr_nn_info info;
    fr_nn_model_info(m, &info);
    struct fr_tensor t;
    if (json) {
        printf("{\"model\": \"%s\", \"opset\": %d, \"inputs\": [", model, info.opset);
        for (int i = 0; i < fr_nn_model_n_inputs(m); i++) {
            const char *nm = fr_nn_model_input(m, i, &t);
            printf("%s{\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": ", i ? ", " : "", nm, fr_dtype_name(t.dtype));
            print_shape(stdout, &t);
            printf("}");
        }
        printf("], \"outputs\": [");
        for (int i = 0; i < fr_nn_model_n_outputs(m); i++) {
            const char *nm = fr_nn_model_output(m, i, &t);
            printf("%s{\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": ", i ? ", " : "", nm, fr_dtype_name(t.dtype));
            print_shape(stdout, &t);
            printf("}");
        }
        printf("], \"nodes\": %d, \"nodes_onnx\": %d, \"params\": %lld, \"macs\": %lld, \"peak_mem_bytes\": %zu, \"ops\": {",
               info.n_nodes, info.n_nodes_onnx, (long long)info.n_params, (long long)info.macs, info.arena_bytes);
        int first = 1;
        for (int op = 0; op < fr_nn_op_count(); op++)
            if (info.op_counts[op]) {
                printf("%s\"%s\": %d", first ? "" : ", ", fr_nn_op_name(op), info.op_counts[op]);
                first = 0;
            }
        printf("}}\n");
    } else {
        printf("model:   %s\nopset:   %d\n", model, info.opset);
        for (int i = 0; i < fr_nn_model_n_inputs(m); i++) {
            const char *nm = fr_nn_model_input(m, i, &t);
            printf("input:   %s %s ", nm, fr_dtype_name(t.dtype));
            print_shape(stdout, &t);
            putchar('\n');
        }
        for (int i = 0; i < fr_nn_model_n_outputs(m); i++) {
            const char *nm = fr_nn_model_output(m, i, &t);
            printf("output:  %s %s ", nm, fr_dtype_name(t.dtype));
            print_shape(stdout, &t);
            putchar('\n');
        }
        printf("nodes:   %d after optimization (%d in the file)\nops:    ", info.n_nodes, info.n_nodes_onnx);
        for (int op = 0; op < fr_nn_op_count(); op++)
            if (info.op_counts[op]) printf(" %s×%d", fr_nn_op_name(op), info.op_counts[op]);
        printf("\nparams:  %lld (%.2f MB)\nMACs:    %lld (%.1f M)\npeak activation memory: %zu bytes (%.2f MB)\n",
               (long long)info.n_params, (double)info.n_params * 4 / 1e6, (long long)info.macs,
               (double)info.macs / 1e6, info.arena_bytes, (double)info.arena_bytes / 1e6);
    }
    fr_nn_model_unref(m);
    return FR_EXIT_OK;
}

static int nn_run(int argc, char **argv) {
    const char *model = NULL, *outdir = NULL;
    const char *inputs[64];
    int n_inputs = 0, threads = 1, ret = FR_EXIT_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--model"))) model = v;
        else if ((v = fr_cli_opt(argc, argv, &i, "--output-dir"))) outdir = v;
        else if ((v = fr_cli_opt(argc, argv, &i, "--threads"))) threads = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--input")) && n_inputs < 64) inputs[n_inputs++] = v;
        else { fprintf(stderr, "facerec nn run: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (!model || !outdir || threads < 1) {
        fprintf(stderr, "usage: facerec nn run --model M --input NAME=FILE.npy [...] --output-dir DIR [--threads N]\n");
        return FR_EXIT_USAGE;
    }
    struct fr_nn_model *m = NULL;
    struct fr_nn_session *s = NULL;
    struct fr_tensor *in = NULL, *out = NULL;
    int rc = fr_nn_model_load(model, NULL, &m);
    if (rc < 0) return fr_cli_err(rc, model);
    int ni = fr_nn_model_n_inputs(m), no = fr_nn_model_n_outputs(m);
    in = calloc((size_t)ni + 1, sizeof *in);
    out = calloc((size_t)no + 1, sizeof *out);
    if (!in || !out) { rc = -FR_E_NOMEM; goto fail; }
    for (int k = 0; k < n_inputs; k++) {
        char name[256];
        const char *eq = strchr(inputs[k], '=');
        if (!eq || (size_t)(eq - inputs[k]) >= sizeof name) {
            fprintf(stderr, "facerec nn run: --input wants NAME=FILE.npy, got %s\n", inputs[k]);
            ret = FR_EXIT_USAGE;
            goto out;
        }
        memcpy(name, inputs[k], (size_t)(eq - inputs[k]));
        name[eq - inputs[k]] = 0;
        int idx = fr_nn_model_input_index(m, name);
        if (idx < 0) { rc = fr_err_set(FR_E_INVALID_ARGUMENT, "the model has no input '%s'", name); goto fail; }
        fr_free(in[idx].data);
        if ((rc = fr_npy_load(eq + 1, &in[idx])) < 0) goto fail;
    }
    for (int k = 0; k < ni; k++)
        if (!in[k].data) {
            rc = fr_err_set(FR_E_INVALID_ARGUMENT, "input '%s' not given", fr_nn_model_input(m, k, NULL));
            goto fail;
        }
    if ((rc = fr_nn_session_new(m, threads, &s)) < 0) goto fail;
    if ((rc = fr_nn_session_run(s, in, out)) < 0) goto fail;
    mkdir(outdir, 0755);
    for (int k = 0; k < no; k++) {
        char path[4096], name[256];
        snprintf(name, sizeof name, "%s", fr_nn_model_output(m, k, NULL));
        for (char *c = name; *c; c++)
            if (*c == '/' || *c == '\\' || *c == ':') *c = '_';
        snprintf(path, sizeof path, "%s/%s.npy", outdir, name);
        if ((rc = fr_npy_save(path, &out[k])) < 0) goto fail;
        printf("%s\n", path);
    }
    ret = FR_EXIT_OK;
    goto out;
fail:
    ret = fr_cli_err(rc, "nn run");
out:
    for (int k = 0; in && k < ni; k++) fr_free(in[k].data);
    free(in);
    free(out);
    fr_nn_session_free(s);
    fr_nn_model_unref(m);
    return ret;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct prof_row { const char *op; double ms; int count; };

static int cmp_prof(const void *a, const void *b) {
    double x = ((const struct prof_row *)a)->ms, y = ((const struct prof_row *)b)->ms;
    return x > y ? -1 : x < y;
}

static int nn_bench(int argc, char **argv) {
    const char *model = NULL;
    int threads = 1, iters = 100, warmup = 10, profile = 0, nodes = 0, ret = FR_EXIT_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--model"))) model = v;
        else if ((v = fr_cli_opt(argc, argv, &i, "--threads"))) threads = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--iters"))) iters = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--warmup"))) warmup = atoi(v);
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else if (!strcmp(argv[i], "--profile-nodes")) profile = nodes = 1;
        else { fprintf(stderr, "facerec nn bench: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (!model || threads < 1 || iters < 1 || warmup < 0) {
        fprintf(stderr, "usage: facerec nn bench --model M [--threads N] [--iters K] [--warmup W] [--profile]\n");
        return FR_EXIT_USAGE;
    }
    struct fr_nn_model *m = NULL;
    struct fr_nn_session *s = NULL;
    struct fr_tensor *in = NULL, *out = NULL;
    double *t = calloc((size_t)iters, sizeof *t);
    int rc = fr_nn_model_load(model, NULL, &m);
    if (rc < 0 || !t) goto fail;
    out = calloc((size_t)fr_nn_model_n_outputs(m) + 1, sizeof *out);
    if (!out) { rc = -FR_E_NOMEM; goto fail; }
    if ((rc = make_inputs(m, model, &in)) < 0) goto fail;
    if ((rc = fr_nn_session_new(m, threads, &s)) < 0) goto fail;
    for (int i = 0; i < warmup; i++)
        if ((rc = fr_nn_session_run(s, in, out)) < 0) goto fail;
    if (profile) fr_nn_session_profile(s, 1);
    for (int i = 0; i < iters; i++) {
        double t0 = fr_time_ms();
        if ((rc = fr_nn_session_run(s, in, out)) < 0) goto fail;
        t[i] = fr_time_ms() - t0;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    struct fr_nn_info info;
    fr_nn_model_info(m, &info);
    const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    printf("{\"model\": \"%s\", \"threads\": %d, \"iters\": %d, \"median_ms\": %.4f, \"p90_ms\": %.4f, \"min_ms\": %.4f, "
           "\"peak_mem_bytes\": %zu, \"isa\": \"%s\"}\n",
           base, threads, iters, t[iters / 2], t[(iters * 9) / 10 < iters ? (iters * 9) / 10 : iters - 1], t[0],
           info.arena_bytes, fr_isa_name(fr_cpu_isa()));
    if (profile) {
        struct prof_row rows[64];
        int nr = 0;
        double total = 0;
        for (int i = 0;; i++) {
            const char *op, *node;
            double ms;
            if (fr_nn_session_profile_get(s, i, &op, &node, &ms) < 0) break;
            if (nodes) fprintf(stderr, "%4d %-18s %-32s %9.4f ms\n", i, op, node, ms / iters);
            int r = 0;
            while (r < nr && strcmp(rows[r].op, op)) r++;
            if (r == nr && nr < 64) rows[nr++] = (struct prof_row){ op, 0, 0 };
            if (r < nr) { rows[r].ms += ms; rows[r].count++; }
            total += ms;
        }
        qsort(rows, (size_t)nr, sizeof rows[0], cmp_prof);
        fprintf(stderr, "%-20s %6s %10s %6s\n", "op", "nodes", "ms/run", "share");
        for (int r = 0; r < nr; r++)
            fprintf(stderr, "%-20s %6d %10.4f %5.1f%%\n", rows[r].op, rows[r].count, rows[r].ms / iters,
                    100.0 * rows[r].ms / (total > 0 ? total : 1));
        fprintf(stderr, "%-20s %6s %10.4f\n", "total", "", total / iters);
    }
    ret = FR_EXIT_OK;
    goto out;
fail:
    ret = fr_cli_err(rc, "nn bench");
out:
    free_inputs(in, m ? fr_nn_model_n_inputs(m) : 0);
    free(out);
    free(t);
    fr_nn_session_free(s);
    fr_nn_model_unref(m);
    return ret;
}

/* ---- conformance ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Read every *.pb of prefix ("input_"/"output_") in dir, in index order. */
static int read_pbs(const char *dir, const char *prefix, struct fr_tensor *t, char **names, int max, int *n_out) {
    *n_out = 0;
    for (int i = 0; i < max; i++) {
        char path[8300];
        snprintf(path, sizeof path, "%s/%s%d.pb", dir, prefix, i);
        uint8_t *buf;
        size_t len;
        FILE *f = fopen(path, "rb");
        if (!f) break;
        fclose(f);
        int rc = fr_file_read(path, (size_t)1 << 30, &buf, &len);
        if (rc < 0) return rc;
        rc = fr_nn_tensor_proto_load(buf, len, &t[i], &names[i]);
        fr_free(buf);
        if (rc < 0) return rc;
        *n_out = i + 1;
    }
    return 0;
}

/* Compare as the ONNX backend tests do: |a - b| <= atol + rtol·|b|. */
static int compare(const struct fr_tensor *got, const struct fr_tensor *want, double *worst, char *why, size_t why_len) {
    *worst = 0;
    if (got->dtype != want->dtype) {
        snprintf(why, why_len, "dtype %s, expected %s", fr_dtype_name(got->dtype), fr_dtype_name(want->dtype));
        return -1;
    }
    if (fr_tensor_numel(got) != fr_tensor_numel(want) || got->ndim != want->ndim ||
        memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->ndim)) {
        snprintf(why, why_len, "shape differs");
        return -1;
    }
    int64_t n = fr_tensor_numel(got);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double a, b;
        switch (got->dtype) {
        case FR_DTYPE_FLOAT: a = ((const float *)got->data)[i]; b = ((const float *)want->data)[i]; break;
        case FR_DTYPE_DOUBLE: a = ((const double *)got->data)[i]; b = ((const double *)want->data)[i]; break;
        case FR_DTYPE_INT64: a = (double)((const int64_t *)got->data)[i]; b = (double)((const int64_t *)want->data)[i]; break;
        case FR_DTYPE_INT32: a = ((const int32_t *)got->data)[i]; b = ((const int32_t *)want->data)[i]; break;
        default: a = ((const uint8_t *)got->data)[i]; b = ((const uint8_t *)want->data)[i]; break;
        }
        if (isnan(a) && isnan(b)) continue;
        if (isinf(a) && isinf(b) && (a > 0) == (b > 0)) continue;
        double err = fabs(a - b);
        if (isnan(err) || err > *worst) *worst = isnan(err) ? (double)INFINITY : err;
        if (!(err <= 1e-6 + 1e-3 * fabs(b))) bad = 1;
    }
    if (bad) snprintf(why, why_len, "worst abs error %.3g", *worst);
    return bad ? -1 : 0;
}

enum { T_PASS, T_FAIL, T_SKIP };

static int conformance_one(const char *dir, char *why, size_t why_len) {
    char path[8192];
    struct fr_tensor ins[32], outs[32], *got = NULL;
    char *in_names[32], *out_names[32];
    struct fr_nn_named_tensor consts[32];
    struct fr_nn_model *m = NULL;
    struct fr_nn_session *s = NULL;
    int ni = 0, no = 0, result = T_FAIL, rc;
    memset(in_names, 0, sizeof in_names);
    memset(out_names, 0, sizeof out_names);
    memset(ins, 0, sizeof ins);
    memset(outs, 0, sizeof outs);
    why[0] = 0;
    /* A model with ops or types we do not implement is a skip; find out
     * before reading its data, which may not even be tensors. */
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if ((rc = fr_nn_model_load(path, NULL, &m)) == -FR_E_MODEL_UNSUPPORTED && strstr(fr_err_detail(), "not implemented")) {
        snprintf(why, why_len, "%s", fr_err_detail());
        return T_SKIP;
    }
    fr_nn_model_unref(m);
    m = NULL;
    for (int set = 0;; set++) {
        char sd[8192];
        struct stat st;
        snprintf(sd, sizeof sd, "%s/test_data_set_%d", dir, set);
        if (stat(sd, &st) != 0) {
            if (set == 0) { snprintf(why, why_len, "no test data"); goto out; }
            break;
        }
        if ((rc = read_pbs(sd, "input_", ins, in_names, 32, &ni)) < 0 ||
            (rc = read_pbs(sd, "output_", outs, out_names, 32, &no)) < 0) {
            const char *d = fr_err_detail();
            snprintf(why, why_len, "%s", d);
            result = strstr(d, "not implemented") ? T_SKIP : T_FAIL;
            goto out;
        }
        /* pin non-float inputs (shapes, axes, indices) as constants */
        int nc = 0;
        for (int i = 0; i < ni; i++)
            if (ins[i].dtype != FR_DTYPE_FLOAT) consts[nc++] = (struct fr_nn_named_tensor){ in_names[i], &ins[i] };
        struct fr_nn_load_opts opts = { .consts = consts, .n_consts = nc };
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        fr_nn_model_unref(m);
        fr_nn_session_free(s);
        m = NULL;
        s = NULL;
        if ((rc = fr_nn_model_load(path, &opts, &m)) < 0) {
            const char *d = fr_err_detail();
            snprintf(why, why_len, "%s", d);
            result = rc == -FR_E_MODEL_UNSUPPORTED && strstr(d, "not implemented") ? T_SKIP : T_FAIL;
            goto out;
        }
        int mi = fr_nn_model_n_inputs(m), mo = fr_nn_model_n_outputs(m);
        struct fr_tensor run_in[32];
        for (int k = 0; k < mi; k++) {
            const char *nm = fr_nn_model_input(m, k, NULL);
            int found = -1;
            for (int i = 0; i < ni; i++)
                if (in_names[i] && !strcmp(in_names[i], nm)) found = i;
            if (found < 0 && k < ni) found = k;
            if (found < 0) { snprintf(why, why_len, "no data for input %s", nm); goto out; }
            run_in[k] = ins[found];
        }
        if (mo != no) { snprintf(why, why_len, "%d outputs, %d expected", mo, no); goto out; }
        free(got);
        got = calloc((size_t)mo + 1, sizeof *got);
        if ((rc = fr_nn_session_new(m, 1, &s)) < 0 || (rc = fr_nn_session_run(s, run_in, got)) < 0) {
            snprintf(why, why_len, "run: %s: %s", fr_strerror(rc), fr_err_detail());
            goto out;
        }
        for (int k = 0; k < mo; k++) {
            double worst;
            char w[200];
            if (compare(&got[k], &outs[k], &worst, w, sizeof w) < 0) {
                snprintf(why, why_len, "set %d output %d: %s", set, k, w);
                goto out;
            }
        }
        for (int i = 0; i < ni; i++) { fr_free(ins[i].data); fr_free(in_names[i]); ins[i].data = NULL; in_names[i] = NULL; }
        for (int i = 0; i < no; i++) { fr_free(outs[i].data); fr_free(out_names[i]); outs[i].data = NULL; out_names[i] = NULL; }
        ni = no = 0;
    }
    result = T_PASS;
out:
    for (int i = 0; i < ni; i++) { fr_free(ins[i].data); fr_free(in_names[i]); }
    for (int i = 0; i < no; i++) { fr_free(outs[i].data); fr_free(out_names[i]); }
    free(got);
    fr_nn_session_free(s);
    fr_nn_model_unref(m);
    return result;
}

static int nn_conformance(int argc, char **argv) {
    const char *dir = NULL, *filter = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--filter"))) filter = v;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else { fprintf(stderr, "facerec nn conformance: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (!dir) { fprintf(stderr, "usage: facerec nn conformance DIR [--filter TEXT] [--quiet]\n"); return FR_EXIT_USAGE; }
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "facerec: cannot open %s\n", dir); return FR_EXIT_ERROR; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (filter && !strstr(e->d_name, filter))) continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s/model.onnx", dir, e->d_name);
        if (stat(p, &st) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    int counts[3] = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        char p[4096], why[512];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        int r = conformance_one(p, why, sizeof why);
        counts[r]++;
        if (r == T_PASS && !quiet) printf("PASS %s\n", names[i]);
        else if (r == T_FAIL) printf("FAIL %s: %s\n", names[i], why);
        else if (r == T_SKIP && !quiet) printf("SKIP %s: %s\n", names[i], why);
        free(names[i]);
    }
    free(names);
    printf("%d passed, %d failed, %d skipped\n", counts[T_PASS], counts[T_FAIL], counts[T_SKIP]);
    return counts[T_FAIL] ? FR_EXIT_FAIL : FR_EXIT_OK;
}

/* ---- selfcheck: every model loads, runs, and gives finite outputs ---- */

static const char *const face_models[] = { "fr_detect", "fr_landmark", "fr_feature", "fr_liveness", "fr_pose",
                                           "fr_eye", "fr_age", "fr_gender", "fr_expression" };

static int nn_selfcheck(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models";
    int bad = 0;
    printf("facerec engine self-check: isa %s, models in %s\n", fr_isa_name(fr_cpu_isa()), dir);
    for (size_t k = 0; k < sizeof face_models / sizeof face_models[0]; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.onnx", dir, face_models[k]);
        struct fr_nn_model *m = NULL;
        struct fr_nn_session *s = NULL;
        struct fr_tensor *in = NULL, out[16];
        double t0 = fr_time_ms(), t1 = 0, t2 = 0;
        int rc = fr_nn_model_load(path, NULL, &m);
        if (rc == 0) { t1 = fr_time_ms(); rc = make_inputs(m, path, &in); }
        if (rc == 0) rc = fr_nn_session_new(m, 1, &s);
        if (rc == 0) rc = fr_nn_session_run(s, in, out);     /* warm */
        if (rc == 0) { t2 = fr_time_ms(); rc = fr_nn_session_run(s, in, out); t2 = fr_time_ms() - t2; }
        int finite = 1;
        for (int o = 0; rc == 0 && o < fr_nn_model_n_outputs(m); o++)
            for (int64_t i = 0; i < fr_tensor_numel(&out[o]); i++)
                if (out[o].dtype == FR_DTYPE_FLOAT && !isfinite(((const float *)out[o].data)[i])) finite = 0;
        if (rc < 0) {
            printf("FAIL %-14s %s: %s\n", face_models[k], fr_strerror(rc), fr_err_detail());
            bad++;
        } else if (!finite) {
            printf("FAIL %-14s non-finite outputs\n", face_models[k]);
            bad++;
        } else {
            printf("ok   %-14s load %6.1f ms, run %7.3f ms, outputs", face_models[k], t1 - t0, t2);
            for (int o = 0; o < fr_nn_model_n_outputs(m); o++) {
                putchar(' ');
                print_shape(stdout, &out[o]);
            }
            putchar('\n');
        }
        free_inputs(in, m ? fr_nn_model_n_inputs(m) : 0);
        fr_nn_session_free(s);
        fr_nn_model_unref(m);
    }
    printf("%s\n", bad ? "self-check FAILED" : "self-check passed: all 9 models load and run");
    return bad ? FR_EXIT_FAIL : FR_EXIT_OK;
}

int cmd_nn(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        printf("usage:\n"
               "  facerec nn info --model M [--json]\n"
               "  facerec nn run --model M --input NAME=FILE.npy [...] --output-dir DIR [--threads N]\n"
               "  facerec nn bench --model M [--threads N] [--iters K] [--warmup W] [--profile | --profile-nodes]\n"
               "  facerec nn conformance DIR [--filter TEXT] [--quiet]\n"
               "  facerec nn selfcheck [MODEL_DIR]\n");
        return argc < 2 ? FR_EXIT_USAGE : FR_EXIT_OK;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "info")) return nn_info(argc - 1, argv + 1);
    if (!strcmp(sub, "run")) return nn_run(argc - 1, argv + 1);
    if (!strcmp(sub, "bench")) return nn_bench(argc - 1, argv + 1);
    if (!strcmp(sub, "conformance")) return nn_conformance(argc - 1, argv + 1);
    if (!strcmp(sub, "selfcheck")) return nn_selfcheck(argc - 1, argv + 1);
    fprintf(stderr, "facerec nn: unknown subcommand '%s'\n", sub);
    return FR_EXIT_USAGE;
}
