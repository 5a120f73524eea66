# backdoorlab Makefile. Toggles: OMP=0 (serial build), ARCH= (baseline instruction set, see below), DEBUG=1
# (-O0 -g), SAN=1.
OMP   ?= 1
CC    ?= gcc
# The baseline every file is built for. The GEMM kernels for wider instruction sets (src/tensor/sgemm_*.c) get
# their own flags below and are chosen at run time, so the default binary is fast on any x86-64 host from
# Haswell/Zen 1 on (x86-64-v3: AVX2 + FMA) without -march=native. FMA in the baseline matters for results, not
# just speed: -ffp-contract=fast fuses a*b+c only where FMA exists, so every host must build with the same
# baseline to get the same bits. ARCH=-march=native still works (a binary for this host only).
MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq ($(findstring x86_64,$(MACHINE)),)
  ARCH ?= -march=x86-64-v3 -mtune=generic
else
  ARCH ?=
endif
DEBUG ?= 0
SAN   ?= 0

# Each build flavour gets its own object tree so OMP=0 / asan never mix objects with the default build.
ifeq ($(SAN),1)
  BUILD ?= build/asan
else ifeq ($(OMP),0)
  BUILD ?= build/serial
else
  BUILD ?= build
endif

OPT = -O3
ifeq ($(DEBUG),1)
  OPT = -O0 -g
endif
# -ffp-contract=fast lets gcc emit FMAs under -std=c11 (ISO mode turns contraction off). It is not
# fast-math: no reassociation, so sums keep their written order and results stay reproducible.
CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra $(OPT) $(ARCH) -ffp-contract=fast -g -Isrc -MMD -MP
PKGS    = libpng zlib inih libcjson libsodium liblzma gmime-3.0
# Recursive (=) so pkg-config runs only when a recipe needs it, after scripts/install-deps.sh.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
LDLIBS  = $(shell pkg-config --libs $(PKGS)) -lcsv -lm
ifeq ($(OMP),1)
  CFLAGS  += -fopenmp
  LDFLAGS += -fopenmp
else
  CFLAGS  += -Wno-unknown-pragmas
endif
ifeq ($(SAN),1)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
# What the manifest records about how the code was built.
CFLAGS += -DBL_CFLAGS='"$(OPT) $(ARCH) -ffp-contract=fast OMP=$(OMP) SAN=$(SAN)"'

LIB_SRC  = $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
TEST_SRC = $(sort $(wildcard tests/test_*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BIN      = $(BUILD)/backdoorlab

.PHONY: all deps test run-tests asan bench bench-peer demo scan-demo course reproduce reproduce-quick docs docs-check clean
# The recursive makes build with one job per core (a clean build is a few hundred files with the fuzz harnesses).
all: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(BIN)

deps:
	@sh scripts/install-deps.sh

$(BIN): $(LIB_OBJ) $(CLI_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	@[ "$(BUILD)" != build ] || ln -sf build/backdoorlab backdoorlab

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# Max pooling's 2x2 path is float compares and selects; under -ftrapping-math (gcc's default) the vectoriser
# refuses to turn them into vector selects ("control flow in loop") and the forward pass ran 2.3x slower. The flag
# only drops floating-point exception guarantees nothing here uses; unlike the fast/unsafe-math options it allows
# no reassociation and changes no result (training gives the same model bytes with and without it).
$(BUILD)/src/nn/pool.o: CFLAGS += -fno-trapping-math

# One GEMM kernel per instruction set, each built for its own (sgemm.c picks one at run time from the CPU).
# -mprefer-vector-width=512: gcc's generic tuning would split the 32-wide tile rows into 256-bit halves.
ifneq ($(findstring x86_64,$(MACHINE)),)
$(BUILD)/src/tensor/sgemm_avx512.o: CFLAGS += -mavx2 -mfma -mavx512f -mavx512vl -mprefer-vector-width=512
$(BUILD)/src/tensor/sgemm_avx2.o: CFLAGS += -mavx2 -mfma
endif

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests $< $(LIB_OBJ) -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka

# Fuzz harnesses (tests/fuzz/, see Fuzzing below): defined before run-tests, whose prerequisites are expanded
# when make reads the rule.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -O1 -g $(ARCH) -Isrc -Wno-unknown-pragmas \
               -fsanitize=fuzzer-no-link $(FUZZ_SAN) -DBL_CFLAGS='"-O1 fuzz OMP=0 SAN=1"'
FUZZ_NAMES   = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     = $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_LIB     = $(FUZZ_BUILD)/libbackdoorlab.a

# The whole suite: install what is missing, build, run every tests/test_*.c, print "N passed, N failed".
test: deps
	@$(MAKE) -j$$(nproc) --no-print-directory run-tests

run-tests: $(TEST_BIN) $(BIN) $(FUZZ_BIN)
	@FUZZ_BUILD=$(FUZZ_BUILD) sh scripts/run-tests.sh $(BUILD)

asan: deps
	@$(MAKE) --no-print-directory SAN=1 ARCH="$(ARCH)" run-tests

bench: all
	@$(BIN) bench

# backdoorlab beside PyTorch (Debian's python3-torch, installed here if missing), same network, data and threads,
# same run: step and epoch img/s and their ratio (scripts/bench-peer.sh; about 2 minutes on 2 cores).
bench-peer: all
	@sh scripts/install-bench-deps.sh && BIN=$(BIN) sh scripts/bench-peer.sh

demo: all
	$(BIN) run experiments/demo.ini

# The scan walk-through (README, Scan): the demo's models, signed, swapped, unsigned and tampered, against
# experiments/scan/strict.ini (about 5 minutes on 2 cores; needs results/demo from `make demo`).
scan-demo: all
	@BIN=$(BIN) sh scripts/scan-demo.sh

# The lab course (issue 19, experiments/course/README.md): eight labs (nine configs) in order (2-61 s each here),
# results in results/course/; stops at the first failing lab and prints each lab's wall time.
course: all
	@OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} BIN=$(BIN) sh experiments/course/run.sh

# The README's measured tables (issue 20): experiments/docs/NAME.ini says what each table holds; `make docs` makes
# the runs (into results/docs/, reusing those made by today's src/) and rewrites each <!-- table:NAME --> block.
# `make docs-check` (run by .ci/run) recomputes the tables marked cheap and fails when the README differs, and
# names every other table (and results/reproduce/README.md) that src/ has changed under since it was made.
docs: all
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BIN) docs

docs-check: all
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BIN) docs --check

# Paper reproductions (issue 8): every config in experiments/papers, our numbers beside the papers' in
# results/reproduce/README.md (< 60 min on 2 cores). The quick variant (first seed, fewer epochs, loose
# tolerances, results/reproduce-quick/) is what CI runs after the tests.
# OMP_WAIT_POLICY=passive: spinning OpenMP waiters make a shared machine crawl; results are identical.
reproduce: all
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BIN) reproduce experiments/papers/*.ini

# The quick variant runs as a local sweep (run/sweep.h) with one 1-thread process per core: the same runs and the
# same report as `reproduce --quick` (claims.csv and every model's weights compared, README "Running a sweep on a
# cluster"), in less time, because processes scale where 2 threads give 1.5-1.9x. A fresh folder each time, as
# reproduce would retrain everything anyway.
# Every paper config but gao2019-strip: its Fashion-MNIST variant needs 10 epochs to implant 1.2% poison and was a
# quarter of the quick runs' CPU time; STRIP's claims are checked in quick mode on MNIST, the paper's dataset
# (gao2019-strip-mnist), and on Fashion-MNIST by `make reproduce`. The longest tasks first (tran2018-spectral
# needs its 10 epochs: at 5 the ASR is 93% but spectral TPR 14%), so the processes end together.
QUICK_FIRST = tran2018-spectral wang2019-neural-cleanse gao2019-strip-mnist
QUICK_SKIP  = gao2019-strip
QUICK_PAPERS = $(QUICK_FIRST:%=experiments/papers/%.ini) \
               $(filter-out $(QUICK_FIRST:%=experiments/papers/%.ini) $(QUICK_SKIP:%=experiments/papers/%.ini), \
                            $(sort $(wildcard experiments/papers/*.ini)))
reproduce-quick: all
	rm -rf results/reproduce-quick
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BIN) sweep --quick --jobs $$(nproc) $(QUICK_PAPERS) --out results/reproduce-quick

# Fuzzing (issue 16): one libFuzzer harness per loader entry point, tests/fuzz/fuzz_NAME.c, built with clang,
# ASan + UBSan, no OpenMP (every omp_* call in src/ is under #ifdef _OPENMP). `make fuzz` runs each for
# FUZZ_SECONDS over its seed corpus (tests/fuzz/corpus/NAME, new finds go to build/fuzz/corpus/NAME);
# `make fuzz-replay` runs every seed and every crash reproducer (tests/fuzz/regressions/NAME) once, no fuzzing;
# run-tests does the same. FUZZ=NAME limits both to one harness. See tests/fuzz/README.md.
.PHONY: fuzz fuzz-build fuzz-replay

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@
ifneq ($(findstring x86_64,$(MACHINE)),)
$(FUZZ_BUILD)/src/tensor/sgemm_avx512.o: FUZZ_CFLAGS += -mavx2 -mfma -mavx512f -mavx512vl
$(FUZZ_BUILD)/src/tensor/sgemm_avx2.o: FUZZ_CFLAGS += -mavx2 -mfma
endif
$(FUZZ_LIB): $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $< $(FUZZ_LIB) -o $@ $(LDLIBS)

fuzz-build: deps
	@$(MAKE) --no-print-directory $(if $(FUZZ),$(FUZZ_BUILD)/fuzz_$(FUZZ),$(FUZZ_BIN))

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ)

fuzz-replay: fuzz-build
	@sh tests/fuzz/replay.sh $(FUZZ_BUILD) $(FUZZ)

clean:
	rm -rf build backdoorlab

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d)
-include $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.d)
