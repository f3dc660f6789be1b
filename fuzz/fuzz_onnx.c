/* libFuzzer target: an untrusted ONNX file.
 *
 * The bytes are loaded with tight limits; when the model loads, a session is
 * created and run once on zero-filled inputs. Everything is freed, and the
 * counted allocator must be back where it started (a leak of our own
 * accounting aborts, so the fuzzer reports it as a crash).
 *
 *   make fuzz && build/fuzz/fuzz_onnx -max_len=65536 fuzz/corpus/onnx
 *
 * Built with -DFR_FUZZ_REPLAY (any C compiler, no libFuzzer) it gets the
 * main() of replay_main.c, which replays files and directories given on the
 * command line. */
#include "facerec/nn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ELEMS ((int64_t)1 << 20)
#define FUZZ_MAX_MACS ((int64_t)1 << 26)   /* skip runs that would only be slow */

/* Zero-filled inputs; 0 when some input is not float32 or is too large. */
static int make_inputs(const struct fr_nn_model *m, struct fr_tensor *in, int n) {
    for (int i = 0; i < n; i++) {
        fr_nn_model_input(m, i, &in[i]);
        int64_t cnt = fr_tensor_numel(&in[i]);
        if (in[i].dtype != FR_DTYPE_FLOAT || cnt < 0 || cnt > FUZZ_MAX_ELEMS) return 0;
        /* calloc, not fr_calloc: the engine's accounting is checked below */
        if (!(in[i].data = calloc((size_t)cnt + 1, sizeof(float)))) return 0;
    }
    return 1;
}

static void run_once(struct fr_nn_model *m) {
    struct fr_nn_info info;
    fr_nn_model_info(m, &info);
    if (info.macs > FUZZ_MAX_MACS) return;
    int n_in = fr_nn_model_n_inputs(m), n_out = fr_nn_model_n_outputs(m);
    struct fr_tensor *in = calloc((size_t)n_in + 1, sizeof *in);
    struct fr_tensor *out = calloc((size_t)n_out + 1, sizeof *out);
    struct fr_nn_session *s = NULL;
    if (in && out && make_inputs(m, in, n_in) && fr_nn_session_new(m, 1, &s) == 0 &&
        fr_nn_session_run(s, in, out) == 0) {
        /* touch every output so a bad data pointer shows up here */
        volatile float sink = 0.0f;
        for (int i = 0; i < n_out; i++) {
            int64_t cnt = fr_tensor_numel(&out[i]);
            if (out[i].dtype == FR_DTYPE_FLOAT && cnt > 0 && out[i].data)
                sink += ((const float *)out[i].data)[cnt - 1];
        }
        (void)sink;
    }
    fr_nn_session_free(s);
    for (int i = 0; in && i < n_in; i++) free(in[i].data);
    free(in);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fr_nn_load_opts o;
    memset(&o, 0, sizeof o);
    o.limits.max_file_bytes = (size_t)1 << 22;
    o.limits.max_tensor_elems = FUZZ_MAX_ELEMS;
    o.limits.max_nodes = 2000;
    o.limits.max_arena_bytes = (size_t)64 << 20;
    size_t used0 = fr_mem_used();
    struct fr_nn_model *m = NULL;
    if (fr_nn_model_load_mem(data, size, &o, &m) == 0) {
        run_once(m);
        fr_nn_model_unref(m);
    }
    if (fr_mem_used() != used0) {
        fprintf(stderr, "fuzz_onnx: engine leaked %zu bytes (%s)\n", fr_mem_used() - used0, fr_err_detail());
        abort();
    }
    return 0;
}

#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
