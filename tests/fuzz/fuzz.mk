# tests/fuzz/fuzz.mk - libFuzzer targets (included by the Makefile).
#
# Every tests/fuzz/fuzz_NAME.c is a target, built as build/fuzz/fuzz_NAME with clang's libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer, linked with the pmm/ objects (built again with
# the same instrumentation) and tests/host/sim.c. A target that needs more names it in a comment
# line of its own source, read here when the Makefile is parsed:
#
#     * FUZZ-LINK: tools/mapfile.c handoff/elf.c        (sources compiled into the target)
#     * FUZZ-CFLAGS: -DSOMETHING -Iefi                  (extra compiler flags for those and it)
#
# `make fuzz SECONDS=N [FUZZ_TARGETS="map ops"]` runs each target N seconds (tests/fuzz/run.sh);
# tests/run.sh runs each for a few seconds from its committed corpus (tests/fuzz/corpus/NAME).

FUZZ_CC      := clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt
# -O2: pmm/'s small helpers (cidx, own_view, ...) inlined where -O1 left them as calls, each with
# its own traced compares (about a fifth of fuzz_ops's time); the checks are the same.
FUZZ_CFLAGS  := $(WARN) -O2 -g -D_GNU_SOURCE -Iinclude -Ipmm -Itools -Itests/host -Ihandoff \
                -Itests/fuzz $(FUZZ_SAN)
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN     := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
FUZZ_PMM_OBJ := $(PMM_SRC:pmm/%.c=build/fuzz/pmm/%.o)
FUZZ_COMMON  := tests/fuzz/fuzz.h tests/fuzz/coverage-ignore.txt tests/host/sim.c tests/host/sim.h $(PMM_HDR)
SECONDS      ?= 60
FUZZ_TARGETS ?= $(FUZZ_NAMES)

# The value of a "FUZZ-LINK:" or "FUZZ-CFLAGS:" line in a target's source ($(1): the line's key).
fuzz_meta = $(shell sed -n 's/.*$(1):\(.*\)/\1/p' $(2))

build/fuzz/pmm/%.o: pmm/%.c $(PMM_HDR) tests/fuzz/coverage-ignore.txt | deps-host
	@mkdir -p $(@D)
	@echo "  FUZZ CC $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -ffreestanding -fno-builtin -fsanitize=fuzzer-no-link -c -o $@ $<

define fuzz_target
build/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(call fuzz_meta,FUZZ-LINK,tests/fuzz/fuzz_$(1).c) \
                      $(FUZZ_COMMON) $(FUZZ_PMM_OBJ) | deps-host
	@mkdir -p $$(@D)
	@echo "  FUZZ    $$@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(call fuzz_meta,FUZZ-CFLAGS,tests/fuzz/fuzz_$(1).c) \
	    -fsanitize=fuzzer -o $$@ $$< $(call fuzz_meta,FUZZ-LINK,tests/fuzz/fuzz_$(1).c) \
	    tests/host/sim.c $(FUZZ_PMM_OBJ)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_target,$(n))))

# `make test` and `make test-host` smoke-run every target.
host: $(FUZZ_BIN)

.PHONY: fuzz
fuzz: deps-host $(FUZZ_BIN)
	@tests/fuzz/run.sh long $(SECONDS) $(FUZZ_TARGETS)
