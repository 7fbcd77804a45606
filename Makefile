# uefi-pmm - see README.md. `make run` boots it, `make test` runs every test.
#
# Layout of the build: build/host (tests, benchmarks, tools), build/asan (the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer).

CC       ?= gcc
WARN     := -std=c11 -Wall -Wextra -Werror
HOST_CFLAGS := $(WARN) -O2 -g -Iinclude -Ipmm -Itools -Itests/host -D_DEFAULT_SOURCE
# The library never calls libc, on the host too: the same object code shape as in the loader.
PMM_CFLAGS  := -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns
ASAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

PMM_SRC   := $(wildcard pmm/*.c)
PMM_HDR   := include/pmm.h pmm/state.h
HOST_DEPS := tools/deps.sh

HOST_TESTS := test_memmap test_bitmap test_alloc test_phases test_check test_realmaps test_random
TEST_COMMON := tests/host/sim.c tools/mapfile.c

.SECONDARY:

.PHONY: all deps deps-host test test-host bench clean format

all: host

deps-host:
	@tools/deps.sh gcc make python3

host: deps-host $(addprefix build/host/,$(HOST_TESTS)) $(addprefix build/asan/,$(HOST_TESTS)) \
      build/host/bench

PMM_HOST_OBJ := $(PMM_SRC:pmm/%.c=build/host/pmm/%.o)
PMM_ASAN_OBJ := $(PMM_SRC:pmm/%.c=build/asan/pmm/%.o)
TEST_HDRS    := $(wildcard tests/host/*.h) tools/mapfile.h

build/host/pmm/%.o: pmm/%.c $(PMM_HDR)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(PMM_CFLAGS) -c -o $@ $<

build/asan/pmm/%.o: pmm/%.c $(PMM_HDR)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(PMM_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build/host/%: tests/host/%.c $(PMM_HOST_OBJ) $(TEST_COMMON) $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -o $@ $< $(TEST_COMMON) $(PMM_HOST_OBJ)

build/asan/%: tests/host/%.c $(PMM_ASAN_OBJ) $(TEST_COMMON) $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(TEST_COMMON) $(PMM_ASAN_OBJ)

build/host/bench: $(wildcard bench/*.c bench/*.h) $(PMM_HOST_OBJ) tests/host/sim.c
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -Ibench -o $@ bench/*.c tests/host/sim.c $(PMM_HOST_OBJ)

test-host: host
	@tests/run.sh host

test: host
	@tests/run.sh all

bench: deps-host build/host/bench
	build/host/bench

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
