# ssl-tools: semi-supervised learning with generative models, as Unix filters.
#   make            build every program into build/bin
#   make test       C unit tests + bats suite   (SANITIZE=1: under ASan+UBSan, in build-san/)
#   make demo       the digits pipeline end to end, printing its comparison table
#   make deps       install the Debian packages that are missing
#   make bench      speed benchmarks (bench/)
#   make fuzz       libFuzzer runs of tests/fuzz/fuzz_*.c, FUZZ_SECONDS (60) each, in build-fuzz/ (clang)

VERSION  := 0.1.0
SANITIZE ?= 0
# MPI=1: data-parallel training (lib/dist.c over OpenMPI), built with mpicc into build-mpi/
MPI      ?= 0
ifeq ($(MPI),1)
  ifeq ($(SANITIZE),1)
    BUILD ?= build-mpi-san
  endif
  BUILD  ?= build-mpi
  CC     := mpicc
  EXTRA_CFLAGS += -DSSL_MPI
  DEB_PACKAGES_MPI := libopenmpi-dev openmpi-bin
endif
ifeq ($(SANITIZE),1)
  BUILD  ?= build-san
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
  BUILD  ?= build
  OPT    := -O2 -g
endif

CC      ?= gcc
# lib/ holds the library's parts, a folder each (docs/architecture.md); headers are included by name
LIB_DIRS := $(sort $(dir $(wildcard lib/*/*.c)))
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wno-psabi -DSSL_VERSION='"$(VERSION)"' \
           $(addprefix -I,$(LIB_DIRS)) $(EXTRA_CFLAGS)
LDFLAGS := $(OPT) $(EXTRA_LDFLAGS)
LDLIBS  := -lcsv -ljansson -lmsgpackc -lopenblas -lpng -lz -lm -lpthread

LIB_SRC   := $(wildcard lib/*/*.c)
LIB_OBJ   := $(LIB_SRC:lib/%.c=$(BUILD)/obj/lib/%.o)
TOOL_SRC  := $(wildcard tools/*.c)
TOOLS     := $(TOOL_SRC:tools/%.c=$(BUILD)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

DEB_PACKAGES := gcc make libcsv-dev libjansson-dev libmsgpack-dev libopenblas-dev libpng-dev zlib1g-dev bats \
                python3-msgpack python3-numpy python3-msgpack-numpy python3-sklearn gnuplot-nox $(DEB_PACKAGES_MPI)

.PHONY: all test unit bats demo deps bench fuzz clean
# object files are intermediate in the pattern chains: keep them, or every make rebuilds them
.SECONDARY:
all: $(TOOLS)

$(BUILD)/obj/%.o: %.c $(wildcard lib/*/*.h) | deps-check
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libssl.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(BUILD)/libssl.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(BUILD)/libssl.a $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libssl.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(BUILD)/libssl.a $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libssl.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(BUILD)/libssl.a $(LDLIBS) -o $@

# The tests: every unit test binary, then every bats file; one closing "N passed, N failed" line.
# With OpenMPI's mpicc on PATH, `make test` also builds the MPI variant (build-mpi/, build-mpi-san/
# under SANITIZE=1) so that the mpirun tests of tests/bats/scale-out.bats run instead of skipping.
MPI_BUILD := $(if $(filter 1,$(MPI)),$(BUILD),$(if $(filter 1,$(SANITIZE)),build-mpi-san,build-mpi))
test: deps $(TOOLS) $(UNITS) mpi-tools
	@BUILD=$(BUILD) MPI_BUILD=$(MPI_BUILD) tests/run $(UNITS)

mpi-tools:
	@if [ "$(MPI)" != 1 ] && command -v mpicc > /dev/null; then $(MAKE) --no-print-directory MPI=1 all; fi
.PHONY: mpi-tools

# The digits comparison: a line per finished run, the commands and their output in results/digits/demo.log.
demo: deps $(TOOLS)
	@pipelines/progress results/digits/demo.log \
	  $(MAKE) --no-print-directory -f pipelines/digits.mk BIN=$(abspath $(BUILD)/bin) -j2 THREADS=1
	@cat results/digits/table.md

bench: deps $(TOOLS) $(BENCHES)
	@BUILD=$(BUILD) bench/run

# Fuzzing: each tests/fuzz/fuzz_NAME.c is a libFuzzer harness, run FUZZ_SECONDS from its seeds in
# tests/fuzz/corpus/NAME (new inputs go to build-fuzz/corpus/NAME, crashes to build-fuzz/NAME-crash-*).
# `make test` replays the seeds through tests/unit/test_fuzz_corpus.c.
FUZZ_SECONDS  ?= 60
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES    := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(FUZZ_PACKAGES)"
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    EXTRA_LDFLAGS="-fsanitize=fuzzer $(FUZZ_SAN)" $(FUZZ_NAMES:%=build-fuzz/fuzz/fuzz_%)
	@for n in $(FUZZ_NAMES); do mkdir -p build-fuzz/corpus/$$n; \
	  build-fuzz/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=512 -malloc_limit_mb=512 \
	    -print_final_stats=1 -artifact_prefix=build-fuzz/$$n- build-fuzz/corpus/$$n tests/fuzz/corpus/$$n \
	    >build-fuzz/$$n.log 2>&1 || { tail -n 40 build-fuzz/$$n.log; echo "fuzz $$n: FAILED"; exit 1; }; \
	  echo "fuzz $$n: $$(grep -h 'stat::number_of_executed_units' build-fuzz/$$n.log | grep -o '[0-9]*$$') runs in $(FUZZ_SECONDS) s, no crash"; \
	done

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libssl.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(BUILD)/libssl.a $(LDLIBS) -o $@
$(BUILD)/obj/tests/unit/test_fuzz_corpus.o: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

# Installs the Debian packages that are missing (root, as on a fresh machine).
deps:
	@pipelines/apt-install $(DEB_PACKAGES)

# Object files need the headers of the packages: install them first when building from scratch.
deps-check:
	@[ -f /usr/include/csv.h ] && [ -f /usr/include/jansson.h ] && [ -f /usr/include/msgpack.h ] && [ -f /usr/include/x86_64-linux-gnu/cblas.h -o -f /usr/include/cblas.h ] && [ -f /usr/include/png.h ] || $(MAKE) --no-print-directory deps
.PHONY: deps-check

clean:
	rm -rf build build-san build-fuzz build-mpi build-mpi-san
