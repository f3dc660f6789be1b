/* The conv GEMM microkernel (fr_kern.pw: packed weights, bias + activation
 * fused) against OpenBLAS cblas_sgemm followed by the same bias + activation
 * pass, on conv shapes taken from the face models. Prints median ms of each,
 * GMAC/s and the ratio ours/OpenBLAS, one Markdown row per shape.
 *   build/bench/kern_bench [REPS] */
#include "facerec/nn.h"
#include "nn/nn_int.h"
#include "nn/kern/kern.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    static const struct { int m, k, n; const char *where; } shapes[] = {
        { 32, 16, 19200, "detect 1x1 16->32 120x160" },
        { 64, 64, 1200, "detect 1x1 64->64 30x40" },
        { 256, 256, 80, "detect 1x1 256->256 8x10" },
        { 128, 64, 3136, "feature 1x1 64->128 56x56" },
        { 128, 256, 196, "feature 1x1 256->128 14x14" },
        { 232, 232, 49, "pose 1x1 232->232 7x7" },
        { 128, 256, 3136, "expression 1x1 256->128 56x56" },
        { 64, 147, 12544, "expression 7x7/2 stem (im2col K=147)" },
    };
    const struct fr_kern *k = fr_kern_get();
    openblas_set_num_threads(1);
    if (!k->pw) { fprintf(stderr, "no GEMM microkernel for isa %s\n", fr_isa_name(fr_cpu_isa())); return 1; }
    printf("isa %s, %d reps, 1 thread, medians\n\n", k->isa, reps);
    printf("| shape (M x K x N) | from | facerec pw ms | OpenBLAS sgemm+epilogue ms | GMAC/s ours | GMAC/s OpenBLAS | ratio |\n");
    printf("|---|---|---|---|---|---|---|\n");
    double *t1 = malloc(sizeof(double) * (size_t)reps), *t2 = malloc(sizeof(double) * (size_t)reps);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s].m, kk = shapes[s].k, n = shapes[s].n;
        float *w = fr_malloc_aligned((size_t)m * kk * 4), *x = fr_malloc_aligned((size_t)kk * n * 4);
        float *y = fr_malloc_aligned((size_t)m * n * 4), *bias = fr_malloc_aligned((size_t)m * 4);
        float *wp = fr_malloc_aligned(fr_kern_pack_pw_size(m, kk, k->pw_mr) * 4);
        struct fr_tensor tw = { .dtype = FR_DTYPE_FLOAT, .ndim = 1, .dims = { (int64_t)m * kk }, .data = w };
        struct fr_tensor tx = { .dtype = FR_DTYPE_FLOAT, .ndim = 1, .dims = { (int64_t)kk * n }, .data = x };
        fr_nn_fill_pattern(&tw, 1, -0.1f, 0.1f);
        fr_nn_fill_pattern(&tx, 2, -1.0f, 1.0f);
        for (int i = 0; i < m; i++) bias[i] = 0.01f * (float)i;
        fr_kern_pack_pw(w, m, kk, k->pw_mr, wp);
        struct fr_kern_act act = { .act = FR_ACT_RELU };
        for (int r = 0; r < reps; r++) {
            double t0 = fr_time_ms();
            for (int c0 = 0; c0 < n; c0 += 1024)   /* the conv path's column blocks */
                k->pw(wp, x + c0, (size_t)n, y + c0, (size_t)n, m, kk, n - c0 < 1024 ? n - c0 : 1024, bias, 0, &act);
            t1[r] = fr_time_ms() - t0;
            t0 = fr_time_ms();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, kk, 1.0f, w, kk, x, n, 0.0f, y, n);
            for (int o = 0; o < m; o++) k->bias_act(y + (size_t)o * n, (size_t)n, bias[o], o, &act);
            t2[r] = fr_time_ms() - t0;
        }
        qsort(t1, (size_t)reps, sizeof *t1, cmp);
        qsort(t2, (size_t)reps, sizeof *t2, cmp);
        double a = t1[reps / 2], b = t2[reps / 2], macs = (double)m * kk * n;
        printf("| %d x %d x %d | %s | %.4f | %.4f | %.1f | %.1f | %.2f |\n", m, kk, n, shapes[s].where, a, b,
               macs / a / 1e6, macs / b / 1e6, a / b);
        fr_free(w); fr_free(x); fr_free(y); fr_free(bias); fr_free(wp);
    }
    free(t1);
    free(t2);
    return 0;
}
