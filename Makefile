# uefi-pmm - see README.md. `make run` boots it, `make test` runs every test.
#
# Layout of the build: build/host (tests, benchmarks, tools), build/asan (the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer), build/tsan (the multi-threaded test under
# ThreadSanitizer).

CC       ?= gcc
WARN     := -std=c11 -Wall -Wextra -Werror
HOST_CFLAGS := $(WARN) -O2 -g -Iinclude -Ipmm -Itools -Itests/host -Ihandoff -D_DEFAULT_SOURCE
# The library never calls libc, on the host too: the same object code shape as in the loader.
PMM_CFLAGS  := -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns
ASAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

PMM_SRC   := $(wildcard pmm/*.c)
PMM_HDR   := include/pmm.h $(wildcard pmm/*.h)
# Every host binary names the allocator objects it links (and through them pmm/'s headers), so a
# change in pmm/ rebuilds every test, the benchmark and pmmsim before `make test` runs them.
PMM_HOST_OBJ := $(PMM_SRC:pmm/%.c=build/host/pmm/%.o)
PMM_ASAN_OBJ := $(PMM_SRC:pmm/%.c=build/asan/pmm/%.o)

# `make` alone builds everything the README names.
.DEFAULT_GOAL := all

HOST_DEPS := tools/deps.sh

# Every tests/host/test_*.c is a host test, built plain (build/host/) and under ASan+UBSan
# (build/asan/) by the pattern rules below unless a rule of its own names more sources.
HOST_TESTS := $(patsubst tests/host/%.c,%,$(wildcard tests/host/test_*.c))
TEST_COMMON := tests/host/sim.c tools/mapfile.c handoff/elf.c handoff/verify.c handoff/limine_verify.c
# ... compiled once per flavour and linked into each test (a change in pmm/ relinks, not recompiles)
TEST_COMMON_HOST := $(TEST_COMMON:%.c=build/host/common/%.o)
TEST_COMMON_ASAN := $(TEST_COMMON:%.c=build/asan/common/%.o)

# The UEFI loader: gnu-efi, PE32+ built from an ELF shared object. The allocator is compiled again
# with the loader's flags (position independent, no red zone).
EFI_INC    := -I/usr/include/efi -I/usr/include/efi/x86_64
EFI_CFLAGS := $(WARN) -O2 -fpic -fshort-wchar -mno-red-zone -ffreestanding -fno-stack-protector \
              -fno-strict-aliasing -fno-builtin -DGNU_EFI_USE_MS_ABI $(EFI_INC) \
              -Iinclude -Ipmm -Ihandoff -Iefi -Iefi/limine -Ihandoff/kernel
EFI_LDS    := /usr/lib/elf_x86_64_efi.lds
EFI_CRT0   := /usr/lib/crt0-efi-x86_64.o
# The framebuffer console is the kernel stub's, reused for the loader's failures after exit.
EFI_SRC    := $(wildcard efi/*.c efi/limine/*.c) handoff/elf.c handoff/verify.c \
              handoff/kernel/fbcon.c handoff/kernel/font.c
EFI_OBJ    := $(EFI_SRC:%.c=build/efi/%.o) build/efi/efi/limine/stubs.o \
              build/efi/handoff/kernel/la57_switch.o $(PMM_SRC:%.c=build/efi/%.o)
EFI_HDR    := $(wildcard efi/*.h efi/limine/*.h) include/handoff.h include/pmm_numa.h \
              include/limine.h handoff/kernel/la57.h handoff/elf_image.h handoff/x86.h \
              handoff/icr.h handoff/kernel/fbcon.h handoff/kernel/font.h $(PMM_HDR)

build/efi/%.o: %.c $(EFI_HDR)
	@mkdir -p $(@D)
	@echo "  EFI CC  $@"
	@$(CC) $(EFI_CFLAGS) -c -o $@ $<

build/efi/%.o: %.S $(EFI_HDR)
	@mkdir -p $(@D)
	@echo "  EFI AS  $@"
	@$(CC) $(EFI_CFLAGS) -c -o $@ $<

# Every EFI binary: an ELF shared object linked against gnu-efi (its prerequisites are the
# objects), then copied into a PE32+ as an application or a boot-services driver. The firmware
# resolves no symbols: refuse to build a binary that still needs one.
build/%.so:
	@echo "  LD      $@"
	@ld -nostdlib -znocombreloc -T $(EFI_LDS) -shared -Bsymbolic -L/usr/lib \
	    $(EFI_CRT0) $^ -o $@ -lefi -lgnuefi
	@if nm -u $@ | grep -q .; then echo "undefined symbols in $@:"; nm -u $@; rm -f $@; exit 1; fi
EFI_PE  := objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .rel.* \
           -j .rela.* -j .reloc
# objcopy cannot set DllCharacteristics: set NX_COMPAT (0x100) in the PE header it wrote, as
# Microsoft's UEFI CA and shim ask (the sections are already 4 KiB aligned and none is W+X;
# tests/host/test_pe.c checks all three).
NX_COMPAT := python3 -c 'import sys, struct; f = open(sys.argv[1], "r+b"); d = f.read(); \
             o = struct.unpack_from("<I", d, 0x3c)[0] + 24 + 70; f.seek(o); \
             f.write(struct.pack("<H", struct.unpack_from("<H", d, o)[0] | 0x100))'
EFI_APP := $(EFI_PE) --target efi-app-x86_64 --subsystem=10
EFI_DRV := $(EFI_PE) --target efi-bsdrv-x86_64 --subsystem=11

build/efi/loader.so: $(EFI_OBJ)
build/BOOTX64.EFI: build/efi/loader.so
	@echo "  PE      $@"
	@$(EFI_APP) $< $@ && $(NX_COMPAT) $@

# The kernel stub: freestanding ELF in the top 2 GiB, general registers only.
K_CFLAGS := $(WARN) -O2 -g -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
            -mgeneral-regs-only -fno-stack-protector -fno-builtin -fno-tree-loop-distribute-patterns \
            -fomit-frame-pointer -Iinclude -Ipmm -Ihandoff -Ihandoff/kernel
K_SRC    := $(wildcard handoff/kernel/*.c) handoff/verify.c handoff/limine_verify.c
K_OBJ    := $(K_SRC:%.c=build/kernel/%.o) build/kernel/handoff/kernel/entry.o \
            build/kernel/handoff/kernel/la57_switch.o \
            $(PMM_SRC:%.c=build/kernel/%.o)
K_HDR    := $(wildcard handoff/kernel/*.h) include/handoff.h include/pmm_numa.h include/limine.h \
            handoff/x86.h handoff/limine_verify.h $(PMM_HDR)

build/kernel/%.o: %.c $(K_HDR)
	@mkdir -p $(@D)
	@echo "  K CC    $@"
	@$(CC) $(K_CFLAGS) -c -o $@ $<

build/kernel/%.o: %.S $(K_HDR)
	@mkdir -p $(@D)
	@echo "  K AS    $@"
	@$(CC) $(K_CFLAGS) -c -o $@ $<

build/kernel.elf: $(K_OBJ) handoff/kernel/kernel.ld
	@echo "  LD      $@"
	@ld -nostdlib -static -z max-page-size=4096 -T handoff/kernel/kernel.ld -o $@ $(K_OBJ)
	@if nm -u $@ | grep -q .; then echo "undefined symbols in $@:"; nm -u $@; rm -f $@; exit 1; fi

# The boot volume: a FAT image written with mtools (no root, no loop devices). $(1): the loader.
define boot_volume
	@echo "  IMG     $@"
	@rm -f $@
	@mformat -i $@ -C -T 65536 -h 64 -s 32 -v UEFIPMM ::
	@mmd -i $@ ::/EFI ::/EFI/BOOT ::/EFI/pmm
	@mcopy -i $@ $(1) ::/EFI/BOOT/BOOTX64.EFI
	@mcopy -i $@ build/kernel.elf ::/EFI/pmm/kernel.elf
endef
build/esp.img: build/BOOTX64.EFI build/kernel.elf
	$(call boot_volume,build/BOOTX64.EFI)

# Images the negative boot tests use: no kernel, a truncated one, one for another machine.
build/esp-nokernel.img: build/esp.img
	@cp $< $@ && mdel -i $@ ::/EFI/pmm/kernel.elf
build/esp-truncated.img: build/esp.img
	@head -c 3000 build/kernel.elf >build/kernel-truncated.elf
	@cp $< $@ && mcopy -o -i $@ build/kernel-truncated.elf ::/EFI/pmm/kernel.elf
build/esp-badmachine.img: build/esp.img
	@cp build/kernel.elf build/kernel-badmachine.elf
	@printf '\050' | dd of=build/kernel-badmachine.elf bs=1 seek=18 conv=notrunc status=none
	@cp $< $@ && mcopy -o -i $@ build/kernel-badmachine.elf ::/EFI/pmm/kernel.elf
# Test kernels: the stub with one source file rebuilt under a define, on its own boot volume.
# $(1): name, $(2): define, $(3): the source file (handoff/kernel/NAME) the define changes.
define kernel_variant
build/kernel-$(1)/%.o: %.c $$(K_HDR)
	@mkdir -p $$(@D)
	@$$(CC) $$(K_CFLAGS) -D$(2) -c -o $$@ $$<
build/kernel-$(1).elf: $$(K_OBJ) build/kernel-$(1)/handoff/kernel/$(3).o
	@ld -nostdlib -static -z max-page-size=4096 -T handoff/kernel/kernel.ld -o $$@ \
	    $$(filter-out build/kernel/handoff/kernel/$(3).o,$$(K_OBJ)) $$(lastword $$^)
build/esp-$(1).img: build/esp.img build/kernel-$(1).elf
	@cp $$< $$@ && mcopy -o -i $$@ build/kernel-$(1).elf ::/EFI/pmm/kernel.elf
endef
# faults on purpose after its page-table switch (the exception-report test)
$(eval $(call kernel_variant,fault,PMM_FAULT_TEST,main))
# write to their own text, execute from the direct map (W^X: tests/qemu/wx.sh)
$(eval $(call kernel_variant,wxtext,PMM_WX_TEST_TEXT,main))
$(eval $(call kernel_variant,wxexec,PMM_WX_TEST_EXEC,main))
# The state layout the loader hands over (include/pmm.h); the refusal tests' kernels are built for
# the one before it, as a kernel left on the disk by the previous build would be.
ABI_VERSION := $(shell sed -n 's/^\#define PMM_ABI_VERSION \([0-9]*\)u.*/\1/p' include/pmm.h)
ifeq ($(ABI_VERSION),)
$(error cannot read PMM_ABI_VERSION from include/pmm.h)
endif
OLD_ABI := $(shell expr $(ABI_VERSION) - 1)
# built for the previous layout: must refuse this loader's allocator, naming both versions
$(eval $(call kernel_variant,oldkernel,PMM_ABI_VERSION=$(OLD_ABI)u,main))
# the same, staying on its verdict: the refusal must be on screen too (tests/qemu/panicscreen.sh)
OLDSCREEN_OBJ := build/kernel-oldscreen/handoff/kernel/main.o \
                 build/kernel-oldscreen/handoff/kernel/console.o
build/kernel-oldscreen/%.o: %.c $(K_HDR)
	@mkdir -p $(@D)
	@$(CC) $(K_CFLAGS) -DPMM_ABI_VERSION=$(OLD_ABI)u -DPMM_STAY_ON_VERDICT -c -o $@ $<
build/kernel-oldscreen.elf: $(K_OBJ) $(OLDSCREEN_OBJ)
	@ld -nostdlib -static -z max-page-size=4096 -T handoff/kernel/kernel.ld -o $@ \
	    $(filter-out $(subst kernel-oldscreen,kernel,$(OLDSCREEN_OBJ)),$(K_OBJ)) $(OLDSCREEN_OBJ)
build/esp-oldscreen.img: build/esp.img build/kernel-oldscreen.elf
	@cp $< $@ && mcopy -o -i $@ build/kernel-oldscreen.elf ::/EFI/pmm/kernel.elf
# asks the loader to hold boot memory until it releases it (tests/qemu/hold.sh)
$(eval $(call kernel_variant,hold,PMM_HOLD_TEST,requests))
# makes no Paging Mode request, so the loader leaves 4-level paging and the kernel switches itself
# to 5-level where the CPU has LA57 (tests/qemu/la57.sh)
$(eval $(call kernel_variant,nopaging,PMM_TEST_NO_PAGING_REQUEST,requests))
# stays on its verdict, no isa-debug-exit (the framebuffer screendump test)
$(eval $(call kernel_variant,screen,PMM_STAY_ON_VERDICT,console))

# A test loader: NAME, the define, and the one file of efi/ it changes (built with the define into
# build/efi-NAME/, linked in place of the normal object); its boot volume is build/esp-NAME.img.
define loader_variant
build/efi-$(1)/efi/$(3).o: efi/$(3).c $$(EFI_HDR)
	@mkdir -p $$(@D)
	@$$(CC) $$(EFI_CFLAGS) -D$(2) -c -o $$@ $$<
build/efi-$(1)/loader.so: $$(filter-out build/efi/efi/$(3).o,$$(EFI_OBJ)) build/efi-$(1)/efi/$(3).o
build/efi-$(1)/BOOTX64.EFI: build/efi-$(1)/loader.so
	@$$(EFI_APP) $$< $$@ && $$(NX_COMPAT) $$@
build/esp-$(1).img: build/efi-$(1)/BOOTX64.EFI build/kernel.elf
	$$(call boot_volume,build/efi-$(1)/BOOTX64.EFI)
endef
# every ExitBootServices key is stale: the failure after exit (tests/qemu/exitfail.sh)
$(eval $(call loader_variant,stalekey,PMM_TEST_STALE_KEY,exit))
# no MP services protocol, so the CPU list comes from the ACPI MADT (boot.sh, CPU_SOURCE=madt)
$(eval $(call loader_variant,nomp,PMM_TEST_NO_MP_SERVICES,cpus))
# two listed CPUs that never come up: one with an APIC ID no CPU has, one that finds no slot
# in the start-up table (tests/qemu/smpmissing.sh)
$(eval $(call loader_variant,smpmissing,PMM_TEST_MISSING_CPUS,limine/mp))
# an Executable Address response whose virtual base lies in the direct map: the kernel must refuse
# it by name (tests/qemu/badresponse.sh)
$(eval $(call loader_variant,badexec,PMM_TEST_BAD_EXEC_ADDRESS,handover))
# in 5-level paging from ExitBootServices on, as under a firmware that runs it (efi/limine/
# fw5test.c): the enter stub's switch down to 4-level (tests/qemu/la57.sh)
$(eval $(call loader_variant,fw5,PMM_TEST_FIRMWARE_5LEVEL,handover))

TEST_IMAGES := build/esp-fw5.img build/esp-badexec.img build/esp-nopaging.img build/esp-oldkernel.img build/esp-oldscreen.img build/esp-hold.img build/esp-smpmissing.img build/esp-nomp.img build/esp-wxtext.img build/esp-wxexec.img build/esp-stalekey.img build/usb-plainsigned.img build/usb-snakeoil-tamperedmod.img build/usb-snakeoil-tamperedconf.img build/esp-screen.img build/usb-snakeoil.img build/usb-snakeoil-tampered.img build/usb.img build/shell-test.img build/esp-fault.img build/esp.img build/esp-nokernel.img build/esp-truncated.img build/esp-badmachine.img \
               build/debug/esp.img

# ---- Limine-protocol test kernels (tests/limine/; booted by tests/qemu/limine.sh) ----------------
# Freestanding kernels of their own, written from the protocol's specification: they link neither
# the loader's code nor the stub's (`full` links pmm/ and handoff/verify.c, the live allocator's
# kernel side, as any kernel taking it would). ET_EXEC kernels use the stub's code model; the
# position-independent ones are static PIEs linked at 0 whose only relocations are
# R_X86_64_RELATIVE (RELA in pie, RELR in pie-relr). dup, low and badreloc each carry one defect
# the loader must refuse. The boot images are the test script's: it writes limine.conf, the
# modules and the expectations for each QEMU shape.
LT_DIR     := tests/limine
LT_CFLAGS  := $(WARN) -O2 -g -ffreestanding -mno-red-zone -mgeneral-regs-only -fno-stack-protector \
              -fno-builtin -fno-tree-loop-distribute-patterns -fomit-frame-pointer -I$(LT_DIR) \
              -Iinclude -Ipmm -Ihandoff
LT_EXEC    := -fno-pic -fno-pie -mcmodel=kernel
LT_PIE     := -fpie -fvisibility=hidden
LT_HDR     := $(wildcard $(LT_DIR)/*.h) include/handoff.h include/pmm.h
LT_LD      := ld -nostdlib -z max-page-size=4096 -z noexecstack
LT_PIE_LD  := $(LT_LD) -static -pie --no-dynamic-linker -z text -T $(LT_DIR)/pie.ld -e lt_entry
LT_KERNELS := full pie pie-relr rev0 rev0s future plain dup low badreloc
LT_ELFS    := $(LT_KERNELS:%=build/limine/%.elf)
# lt.o and checks.o first, entry.o last: no kernel's entry lands at link address 0
LT_X       := build/limine/exec
LT_P       := build/limine/pie
LT_XCOMMON := $(LT_X)/lt.o $(LT_X)/checks.o
LT_PCOMMON := $(LT_P)/lt.o $(LT_P)/checks.o

$(LT_X)/%.o: $(LT_DIR)/%.c $(LT_HDR)
	@mkdir -p $(@D)
	@echo "  LT CC   $@"
	@$(CC) $(LT_CFLAGS) $(LT_EXEC) -c -o $@ $<
$(LT_X)/rev0s.o: $(LT_DIR)/rev0.c $(LT_HDR)
	@mkdir -p $(@D)
	@$(CC) $(LT_CFLAGS) $(LT_EXEC) -DLT_REQS_SECTION -c -o $@ $<
$(LT_X)/entry.o: $(LT_DIR)/entry.S $(LT_HDR)
	@mkdir -p $(@D)
	@$(CC) $(LT_CFLAGS) $(LT_EXEC) -c -o $@ $<
$(LT_X)/refuse-%.o: $(LT_DIR)/refuse.S
	@mkdir -p $(@D)
	@$(CC) -DLT_$(shell echo $* | tr a-z A-Z) -c -o $@ $<
$(LT_P)/%.o: $(LT_DIR)/%.c $(LT_HDR)
	@mkdir -p $(@D)
	@echo "  LT CC   $@ (PIE)"
	@$(CC) $(LT_CFLAGS) $(LT_PIE) -c -o $@ $<
$(LT_P)/pie-relr.o: $(LT_DIR)/pie.c $(LT_HDR)
	@mkdir -p $(@D)
	@$(CC) $(LT_CFLAGS) $(LT_PIE) -DLT_RELR -c -o $@ $<
$(LT_P)/entry.o: $(LT_DIR)/entry.S $(LT_HDR)
	@mkdir -p $(@D)
	@$(CC) $(LT_CFLAGS) $(LT_PIE) -c -o $@ $<

# Each kernel: its objects, then no symbol left undefined (nothing resolves one at boot).
LT_UNDEF = @if nm -u $@ | grep -q .; then echo "undefined symbols in $@:"; nm -u $@; rm -f $@; exit 1; fi
build/limine/full.elf: $(LT_XCOMMON) $(LT_X)/full.o $(LT_X)/entry.o \
                       $(PMM_SRC:%.c=build/kernel/%.o) build/kernel/handoff/verify.o $(LT_DIR)/exec.ld
	@echo "  LT LD   $@"
	@$(LT_LD) -static -T $(LT_DIR)/exec.ld -e lt_elf_entry -o $@ $(filter %.o,$^)
	$(LT_UNDEF)
build/limine/%.elf: $(LT_XCOMMON) $(LT_X)/%.o $(LT_X)/entry.o $(LT_DIR)/exec.ld
	@echo "  LT LD   $@"
	@$(LT_LD) -static -T $(LT_DIR)/exec.ld -e lt_entry -o $@ $(filter %.o,$^)
	$(LT_UNDEF)
build/limine/pie.elf: $(LT_PCOMMON) $(LT_P)/pie.o $(LT_P)/entry.o $(LT_DIR)/pie.ld
	@echo "  LT LD   $@"
	@$(LT_PIE_LD) -o $@ $(filter %.o,$^)
	$(LT_UNDEF)
build/limine/pie-relr.elf: $(LT_PCOMMON) $(LT_P)/pie-relr.o $(LT_P)/entry.o $(LT_DIR)/pie.ld
	@echo "  LT LD   $@"
	@$(LT_PIE_LD) -z pack-relative-relocs -o $@ $(filter %.o,$^)
	$(LT_UNDEF)
build/limine/dup.elf: $(LT_X)/refuse-dup.o $(LT_DIR)/exec.ld
	@$(LT_LD) -static -T $(LT_DIR)/exec.ld -e refuse_entry -o $@ $<
build/limine/low.elf: $(LT_X)/refuse-low.o $(LT_DIR)/exec.ld
	@$(LT_LD) -static --defsym LT_BASE=0x200000 -T $(LT_DIR)/exec.ld -e refuse_entry -o $@ $<
build/limine/badreloc.elf: $(LT_X)/refuse-badreloc.o $(LT_DIR)/pie.ld
	@$(LT_LD) -shared -T $(LT_DIR)/pie.ld -e refuse_entry -o $@ $<

limine-kernels: $(LT_ELFS) build/BOOTX64.EFI
TEST_IMAGES += $(LT_ELFS)
.PHONY: limine-kernels
# ---- end of the Limine-protocol test kernels ----------------------------------------------------

# `make debug`: the same loader built -O0 -g with a wait for GDB, on its own image.
build/debug/%.o: %.c $(EFI_HDR)
	@mkdir -p $(@D)
	@echo "  EFI CC  $@ (debug)"
	@$(CC) $(EFI_CFLAGS) -O0 -g -DPMM_DEBUG_WAIT -c -o $@ $<
build/debug/%.o: %.S $(EFI_HDR)
	@mkdir -p $(@D)
	@$(CC) $(EFI_CFLAGS) -c -o $@ $<
EFI_DBG_OBJ := $(EFI_SRC:%.c=build/debug/%.o) build/debug/efi/limine/stubs.o \
               build/debug/handoff/kernel/la57_switch.o \
               $(PMM_SRC:%.c=build/debug/%.o)
build/debug/loader.so: $(EFI_DBG_OBJ)
build/debug/BOOTX64.EFI: build/debug/loader.so
	@$(EFI_APP) $< $@ && $(NX_COMPAT) $@
build/debug/esp.img: build/debug/BOOTX64.EFI build/kernel.elf
	$(call boot_volume,build/debug/BOOTX64.EFI)

debug: deps build/debug/esp.img
	@tools/debug.sh --mem $(MEM) --smp $(SMP) --machine $(MACHINE) --fw $(FW)

image: deps build/esp.img

# Knobs for run (and the launcher): memory, CPUs, machine, firmware build, extra QEMU arguments.
MEM     ?= 512M
SMP     ?= 1
MACHINE ?= q35
FW      ?= 4M
QEMU_ARGS ?=

# Succeeds on the kernel's PASS, fails on anything else (run.sh --verdict: 0 or 1, not QEMU's 33).
# `make run CONF=limine.conf FILES="kernel.elf initrd"` boots your own Limine kernel instead: a
# volume with our loader, your limine.conf at /limine.conf and FILES in /boot/ (so its paths say
# boot():/boot/NAME); the verdict is then QEMU's status (your kernel decides how it exits).
CONF  ?=
FILES ?=
ifneq ($(CONF),)
RUN_IMAGE := build/esp-user.img
build/esp-user.img: build/BOOTX64.EFI $(CONF) $(FILES) FORCE
	@echo "  IMG     $@ ($(CONF): $(FILES))"
	@rm -f $@
	@mformat -i $@ -C -T 131072 -h 64 -s 32 -v UEFIPMM ::
	@mmd -i $@ ::/EFI ::/EFI/BOOT ::/boot
	@mcopy -i $@ build/BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI
	@mcopy -i $@ $(CONF) ::/limine.conf
	@$(if $(FILES),mcopy -i $@ $(FILES) ::/boot/)
RUN_VERDICT :=
else
RUN_IMAGE := build/esp.img
RUN_VERDICT := --verdict run
endif
.PHONY: FORCE
run: deps $(RUN_IMAGE)
	@ovmf/run.sh --mem $(MEM) --smp $(SMP) --machine $(MACHINE) --fw $(FW) $(RUN_VERDICT) \
	    --image $(RUN_IMAGE) -- $(QEMU_ARGS)

# The shell command: the same objects as a resident driver (pmmcmd.efi, subsystem 11) and as a
# plain shell application (pmm.efi, subsystem 10, built with PMM_SHELL_APP).
SH_SRC   := $(wildcard efi/shell/*.c) $(filter-out efi/main.c,$(EFI_SRC))
SH_HDR   := $(EFI_HDR) efi/shell/shell.h efi/shell/args.h build/efi/efi/shell/man.inc
SH_OBJ   := $(SH_SRC:%.c=build/efi/%.o) build/efi/efi/limine/stubs.o \
            build/efi/handoff/kernel/la57_switch.o $(PMM_SRC:%.c=build/efi/%.o)
APP_OBJ  := $(filter-out build/efi/efi/shell/pmmcmd.o,$(SH_OBJ)) build/efi/app/pmmcmd.o

build/efi/efi/shell/%.o: efi/shell/%.c $(SH_HDR)
	@mkdir -p $(@D)
	@echo "  EFI CC  $@"
	@$(CC) $(EFI_CFLAGS) -Iefi/shell -Ibuild/efi/efi/shell -c -o $@ $<
build/efi/app/pmmcmd.o: efi/shell/pmmcmd.c $(SH_HDR)
	@mkdir -p $(@D)
	@$(CC) $(EFI_CFLAGS) -Iefi/shell -Ibuild/efi/efi/shell -DPMM_SHELL_APP -c -o $@ $<
# The manual page, compiled in as one CR LF string (the shell's man parser drops empty lines, so
# they become one space) and copied next to pmm.efi, where `pmm.efi -?` looks for pmm.man.
build/efi/efi/shell/man.inc: efi/shell/pmm.man
	@mkdir -p $(@D)
	@awk '{ gsub(/\\/, "\\\\\\\\"); gsub(/"/, "\\\""); if ($$0 == "") $$0 = " "; \
	    printf "L\"%s\\r\\n\"\n", $$0 }' $< >$@
build/pmm.man: efi/shell/pmm.man
	@sed 's/$$/\r/' $< >$@
build/efi/pmmcmd.so: $(SH_OBJ)
build/efi/pmmapp.so: $(APP_OBJ)
build/pmmcmd.efi: build/efi/pmmcmd.so
	@$(EFI_DRV) $< $@ && $(NX_COMPAT) $@
build/pmm.efi: build/efi/pmmapp.so
	@$(EFI_APP) $< $@ && $(NX_COMPAT) $@

# A volume without BOOTX64.EFI: OVMF falls through to its built-in shell, which runs startup.nsh.
SHELL_FILES := build/pmmcmd.efi build/pmm.efi build/pmm.man build/kernel.elf
define shell_image
	@rm -f $@
	@mformat -i $@ -C -T 65536 -h 64 -s 32 -v PMMSHELL ::
	@mmd -i $@ ::/EFI ::/EFI/pmm
	@mcopy -i $@ build/pmmcmd.efi build/pmm.efi build/pmm.man build/kernel.elf ::/EFI/pmm/
	@mcopy -i $@ $(1) ::/startup.nsh
	@mcopy -i $@ build/shell/limine.conf ::/EFI/pmm/limine.conf
endef
# `pmm boot fs0:\EFI\pmm\limine.conf` in the shell test: the kernel must print this command line.
build/shell/limine.conf: build/kernel.elf tools/limine-conf.py
	@mkdir -p $(@D)
	@tools/limine-conf.py $@ --cmdline "booted by pmm boot from limine.conf" \
	    build/kernel.elf=/EFI/pmm/kernel.elf
SHELL_FILES += build/shell/limine.conf
build/shell-test.img: $(SHELL_FILES) tests/qemu/shell.nsh
	$(call shell_image,tests/qemu/shell.nsh)
build/shell.img: $(SHELL_FILES) efi/shell/startup.nsh
	$(call shell_image,efi/shell/startup.nsh)

# `make usb`: what goes on a USB stick. A GPT disk with one EFI System Partition (FAT32, from
# sector 2048) holding the loader, limine.conf, the kernel, a module and the shell command; no root,
# no loop devices: sgdisk writes the partition table into the file, mtools writes the FAT at the
# partition's offset. $(1): directory with BOOTX64.EFI, pmmcmd.efi and pmm.efi; $(2): the kernel;
# $(3): the limine.conf; $(4): the module (the kernel's manual page, any file would do).
define usb_image
	@echo "  USB     $@"
	@rm -f $@ && truncate -s 64M $@
	@sgdisk -o -n 1:2048:0 -t 1:ef00 -c 1:"EFI System" $@ >/dev/null
	@mformat -i $@@@1M -F -v UEFIPMM ::
	@mmd -i $@@@1M ::/EFI ::/EFI/BOOT ::/EFI/pmm
	@mcopy -i $@@@1M $(1)/BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI
	@mcopy -i $@@@1M $(1)/pmmcmd.efi $(1)/pmm.efi ::/EFI/pmm/
	@mcopy -i $@@@1M $(4) ::/EFI/pmm/pmm.man
	@mcopy -i $@@@1M $(2) ::/EFI/pmm/kernel.elf
	@mcopy -i $@@@1M $(3) ::/limine.conf
endef
# The stick's limine.conf: every file with its BLAKE2b, so one configuration serves Secure Boot.
build/usb/limine.conf: build/kernel.elf build/pmm.man tools/limine-conf.py
	@mkdir -p $(@D)
	@tools/limine-conf.py $@ --hash --cmdline "booted from limine.conf" \
	    build/kernel.elf=/EFI/pmm/kernel.elf --module "build/pmm.man=/EFI/pmm/pmm.man=manual"
USB_FILES := build/kernel.elf build/usb/limine.conf build/pmm.man
build/usb.img: build/BOOTX64.EFI build/pmmcmd.efi build/pmm.efi $(USB_FILES)
	$(call usb_image,build,build/kernel.elf,build/usb/limine.conf,build/pmm.man)

# Secure Boot: `make usb SIGN_KEY=key.pem SIGN_CERT=cert.pem` also builds build/usb-signed.img,
# whose EFI binaries carry the BLAKE2b of the stick's limine.conf and are signed with sbsign
# (tools/sign.sh). The key must be an unencrypted PEM key.
SIGN_KEY  ?=
SIGN_CERT ?=
ifneq ($(SIGN_KEY),)
build/signed/%: build/% build/usb/limine.conf $(SIGN_KEY) $(SIGN_CERT)
	@mkdir -p $(@D)
	@echo "  SIGN    $@"
	@tools/sign.sh $(SIGN_KEY) $(SIGN_CERT) build/usb/limine.conf $< $@
build/usb-signed.img: build/signed/BOOTX64.EFI build/signed/pmmcmd.efi build/signed/pmm.efi \
                      $(USB_FILES)
	$(call usb_image,build/signed,build/kernel.elf,build/usb/limine.conf,build/pmm.man)
SIGNED_USB := build/usb-signed.img
endif

usb: deps build/usb.img $(SIGNED_USB)
	@echo "build/usb.img$(if $(SIGNED_USB), and $(SIGNED_USB)): write one to a stick with dd (README)"

# The tests sign with Debian's Secure Boot test key ("snakeoil", enrolled in the snakeoil OVMF
# variable store; its password is published with it).
SNAKEOIL_KEY  := /usr/share/ovmf/PkKek-1-snakeoil.key
SNAKEOIL_CERT := /usr/share/ovmf/PkKek-1-snakeoil.pem
build/snakeoil.key: $(SNAKEOIL_KEY)
	@openssl rsa -in $< -passin pass:snakeoil -out $@ 2>/dev/null
build/snakeoil/%: build/% build/usb/limine.conf build/snakeoil.key
	@mkdir -p $(@D)
	@tools/sign.sh build/snakeoil.key $(SNAKEOIL_CERT) build/usb/limine.conf $< $@
SNAKEOIL_EFI := build/snakeoil/BOOTX64.EFI build/snakeoil/pmmcmd.efi build/snakeoil/pmm.efi
build/usb-snakeoil.img: $(SNAKEOIL_EFI) $(USB_FILES)
	$(call usb_image,build/snakeoil,build/kernel.elf,build/usb/limine.conf,build/pmm.man)
# One file changed on the signed stick each: the kernel (one byte of its text: still a valid ELF),
# the module, limine.conf (its command line). Each must be refused by name.
build/usb/kernel-tampered.elf: build/kernel.elf
	@python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); i = d.index(b"verdict: %s"); \
	    open(sys.argv[2], "wb").write(d[:i] + b"V" + d[i + 1:])' $< $@
build/usb/pmm-tampered.man: build/pmm.man
	@sed 's/pmm/PMM/' $< >$@
build/usb/limine-tampered.conf: build/usb/limine.conf
	@sed 's/booted from limine.conf/booted from a changed limine.conf/' $< >$@
build/usb-snakeoil-tampered.img: $(SNAKEOIL_EFI) $(USB_FILES) build/usb/kernel-tampered.elf
	$(call usb_image,build/snakeoil,build/usb/kernel-tampered.elf,build/usb/limine.conf,build/pmm.man)
build/usb-snakeoil-tamperedmod.img: $(SNAKEOIL_EFI) $(USB_FILES) build/usb/pmm-tampered.man
	$(call usb_image,build/snakeoil,build/kernel.elf,build/usb/limine.conf,build/usb/pmm-tampered.man)
build/usb-snakeoil-tamperedconf.img: $(SNAKEOIL_EFI) $(USB_FILES) build/usb/limine-tampered.conf
	$(call usb_image,build/snakeoil,build/kernel.elf,build/usb/limine-tampered.conf,build/pmm.man)

# A loader signed with plain sbsign, without tools/sign.sh's enrolled configuration: Secure Boot
# accepts the loader, which must then refuse to boot at all.
build/plainsigned/%: build/% build/snakeoil.key
	@mkdir -p $(@D)
	@sbsign --key build/snakeoil.key --cert $(SNAKEOIL_CERT) --output $@ $< >/dev/null
build/usb-plainsigned.img: build/plainsigned/BOOTX64.EFI build/plainsigned/pmmcmd.efi \
                           build/plainsigned/pmm.efi $(USB_FILES)
	$(call usb_image,build/plainsigned,build/kernel.elf,build/usb/limine.conf,build/pmm.man)

# `make shell`: the UEFI shell with `pmm` loaded, on this terminal, multiplexed with QEMU's
# monitor: Ctrl-A X (or `reset -s`) leaves, Ctrl-C goes to the shell. Succeeds when left that
# way or when `pmm boot` ends in PASS.
shell: deps build/shell.img
	@ovmf/run.sh --mem $(MEM) --smp $(SMP) --machine $(MACHINE) --fw $(FW) --verdict shell \
	    --image build/shell.img --interactive -- $(QEMU_ARGS)

.SECONDARY:

# The host simulator: the same pmm/ objects, the loader's memory map, the kernel's own self-test.
build/pmmsim: tools/pmmsim.c tools/svg.c tools/svg.h efi/limine/memmap.c handoff/kernel/selftest.c \
              $(PMM_HOST_OBJ) $(PMM_HDR) include/handoff.h tools/mapfile.c tools/mapfile.h \
              tests/host/sim.c tests/host/sim.h
	@echo "  CC      $@"
	@$(CC) $(WARN) -O2 -g -D_GNU_SOURCE -Iinclude -Ipmm -Itools -Itests/host -Ihandoff \
	    -Ihandoff/kernel -Iefi/limine -o $@ tools/pmmsim.c tools/svg.c handoff/kernel/selftest.c \
	    efi/limine/memmap.c tools/mapfile.c \
	    tests/host/sim.c $(PMM_HOST_OBJ) -lm

.PHONY: all deps deps-host test test-host bench mutate clean format image run debug shell usb

all: deps host build/esp.img build/shell.img build/usb.img

deps-host:
	@tools/deps.sh gcc make python3 clang-format clang libclang-rt-dev

deps:
	@tools/deps.sh gcc make python3 binutils gnu-efi ovmf qemu-system-x86 mtools gdb clang-format gdisk sbsigntool openssl \
	    clang libclang-rt-dev

host: deps-host $(addprefix build/host/,$(HOST_TESTS)) $(addprefix build/asan/,$(HOST_TESTS)) \
      build/tsan/test_smp build/host/bench build/pmmsim

TEST_HDRS    := $(wildcard tests/host/*.h) tools/mapfile.h include/handoff.h include/pmm_numa.h \
                handoff/icr.h handoff/limine_verify.h

build/host/pmm/%.o: pmm/%.c $(PMM_HDR)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(PMM_CFLAGS) -c -o $@ $<

build/asan/pmm/%.o: pmm/%.c $(PMM_HDR)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(PMM_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build/host/common/%.o: %.c $(PMM_HDR) $(TEST_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -c -o $@ $<

build/asan/common/%.o: %.c $(PMM_HDR) $(TEST_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build/host/%: tests/host/%.c $(PMM_HOST_OBJ) $(PMM_HDR) $(TEST_COMMON_HOST) $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -o $@ $< $(TEST_COMMON_HOST) $(PMM_HOST_OBJ)

build/asan/%: tests/host/%.c $(PMM_ASAN_OBJ) $(PMM_HDR) $(TEST_COMMON_ASAN) $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(TEST_COMMON_ASAN) $(PMM_ASAN_OBJ)

# ThreadSanitizer (clang's): the allocator and test_smp, whose threads share it as CPUs do.
TSAN_CC      := clang
TSAN_CFLAGS  := $(WARN) -O1 -g -Iinclude -Ipmm -Itests/host -D_DEFAULT_SOURCE -fsanitize=thread \
                -fno-omit-frame-pointer
PMM_TSAN_OBJ := $(PMM_SRC:pmm/%.c=build/tsan/pmm/%.o)
build/tsan/pmm/%.o: pmm/%.c $(PMM_HDR) | deps-host
	@mkdir -p $(@D)
	@echo "  TSAN CC $@"
	@$(TSAN_CC) $(TSAN_CFLAGS) -ffreestanding -fno-builtin -c -o $@ $<
# TSan cannot see stores made by inline assembly: lib.c's pmm_memset (rep stosb) is renamed and a
# C fill takes its place (tests/host/tsan_lib.c), so that the counts fresh_open writes are seen.
build/tsan/pmm/lib.o: pmm/lib.c $(PMM_HDR) | deps-host
	@mkdir -p $(@D)
	@echo "  TSAN CC $@"
	@$(TSAN_CC) $(TSAN_CFLAGS) -ffreestanding -fno-builtin -Dpmm_memset=pmm_memset_asm -c -o $@ $<
build/tsan/test_smp: tests/host/test_smp.c tests/host/sim.c tests/host/tsan_lib.c $(PMM_TSAN_OBJ) \
                     $(PMM_HDR) $(TEST_HDRS)
	@echo "  TSAN    $@"
	@$(TSAN_CC) $(TSAN_CFLAGS) -o $@ $< tests/host/sim.c tests/host/tsan_lib.c $(PMM_TSAN_OBJ)

# The shell command's argument syntax (efi/shell/args.c): plain C over 16-bit characters.
SH_ARGS_TEST := tests/host/test_shell_args.c efi/shell/args.c efi/shell/args.h tests/host/harness.h
build/host/test_shell_args: $(SH_ARGS_TEST)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -Iefi/shell -o $@ $< efi/shell/args.c
build/asan/test_shell_args: $(SH_ARGS_TEST)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(ASAN_FLAGS) -Iefi/shell -o $@ $< efi/shell/args.c

# The Limine loader's freestanding parts (efi/limine/), each tested on the host from its one
# source file, plain and under ASan+UBSan: BLAKE2b against hashlib, the limine.conf reader.
# $(1): test name, $(2): the module under efi/limine/ it tests.
LIMINE_TEST_HDR := efi/limine/blake2b.h efi/limine/conf.h efi/limine/paging.h include/limine.h \
                   tests/host/harness.h
define limine_test
build/host/$(1): tests/host/$(1).c efi/limine/$(2).c $$(LIMINE_TEST_HDR)
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	@$$(CC) $$(HOST_CFLAGS) -Iefi/limine -o $$@ $$< efi/limine/$(2).c
build/asan/$(1): tests/host/$(1).c efi/limine/$(2).c $$(LIMINE_TEST_HDR)
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	@$$(CC) $$(HOST_CFLAGS) $$(ASAN_FLAGS) -Iefi/limine -o $$@ $$< efi/limine/$(2).c
host: build/host/$(1) build/asan/$(1)
endef
$(eval $(call limine_test,test_blake2b,blake2b))
$(eval $(call limine_test,test_limine_conf,conf))
$(eval $(call limine_test,test_limine_paging,paging))

# efi/exit.c against a fake boot-services table: gnu-efi's headers are plain C, and with the MS ABI
# define a call through the table is a direct call on the host too.
EXIT_TEST := tests/host/test_exit.c efi/exit.c efi/exit.h $(TEST_COMMON) $(TEST_HDRS)
EXIT_FLAGS := -DGNU_EFI_USE_MS_ABI $(EFI_INC) -Iefi
build/host/test_exit: $(EXIT_TEST) $(PMM_HOST_OBJ) $(TEST_COMMON_HOST)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(EXIT_FLAGS) -o $@ $< efi/exit.c $(TEST_COMMON_HOST) $(PMM_HOST_OBJ)
build/asan/test_exit: $(EXIT_TEST) $(PMM_ASAN_OBJ) $(TEST_COMMON_ASAN)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(EXIT_FLAGS) $(ASAN_FLAGS) -o $@ $< efi/exit.c $(TEST_COMMON_ASAN) \
	    $(PMM_ASAN_OBJ)

# efi/preflight.c is freestanding C: the loader's refusals before exit, tested on the host.
build/host/test_preflight: tests/host/test_preflight.c efi/preflight.c efi/preflight.h $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -Iefi -o $@ $< efi/preflight.c
build/asan/test_preflight: tests/host/test_preflight.c efi/preflight.c efi/preflight.h $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(ASAN_FLAGS) -Iefi -o $@ $< efi/preflight.c

# The loader's CPU list, ACPI reading and node table (efi/cpulist.c, efi/numa.c) and the part of
# the response they fill (efi/response.c): freestanding, over hand-built tables. test_bigsmp also
# builds an allocator for 768 CPUs and checks the response with the kernel's verify.c.
ACPI_TESTS := test_cpus test_numa test_bigsmp
ACPI_SRC   := efi/cpulist.c efi/numa.c efi/response.c
ACPI_DEPS  := tests/host/%.c $(ACPI_SRC) efi/cpulist.h efi/numa.h efi/response.h efi/acpi_bytes.h \
              include/pmm_numa.h tests/host/acpi.h $(TEST_COMMON) $(TEST_HDRS)
$(ACPI_TESTS:%=build/host/%): build/host/%: $(ACPI_DEPS) $(PMM_HOST_OBJ) $(TEST_COMMON_HOST)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -Iefi -o $@ $< $(ACPI_SRC) $(TEST_COMMON_HOST) $(PMM_HOST_OBJ)
$(ACPI_TESTS:%=build/asan/%): build/asan/%: $(ACPI_DEPS) $(PMM_ASAN_OBJ) $(TEST_COMMON_ASAN)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(ASAN_FLAGS) -Iefi -o $@ $< $(ACPI_SRC) $(TEST_COMMON_ASAN) $(PMM_ASAN_OBJ)

# Handover: reconcile in hold mode, configuration tables kept (efi/cfgtables.c), the kernel's
# check of what it was handed (handoff/kernel/handed.c).
HANDOVER_SRC := tests/host/test_handover.c efi/cfgtables.c handoff/kernel/handed.c
build/host/test_handover: $(HANDOVER_SRC) efi/cfgtables.h $(PMM_HOST_OBJ) $(TEST_COMMON_HOST) \
                          $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) -Iefi -Ihandoff/kernel -o $@ $(HANDOVER_SRC) $(TEST_COMMON_HOST) $(PMM_HOST_OBJ)
build/asan/test_handover: $(HANDOVER_SRC) efi/cfgtables.h $(PMM_ASAN_OBJ) $(TEST_COMMON_ASAN) \
                          $(TEST_HDRS)
	@echo "  CC      $@"
	@$(CC) $(HOST_CFLAGS) $(ASAN_FLAGS) -Iefi -Ihandoff/kernel -o $@ $(HANDOVER_SRC) \
	    $(TEST_COMMON_ASAN) $(PMM_ASAN_OBJ)

# The benchmarks see the allocator through include/pmm.h only (no -Ipmm): their figures must
# survive a rewrite of pmm/'s internals.
build/host/bench: $(wildcard bench/*.c bench/*.h) $(PMM_HOST_OBJ) $(PMM_HDR) tests/host/sim.c \
                  tests/host/sim.h tests/host/rng.h handoff/kernel/spinlock.h
	@echo "  CC      $@"
	@$(CC) $(filter-out -Ipmm,$(HOST_CFLAGS)) -Ibench -o $@ bench/*.c tests/host/sim.c $(PMM_HOST_OBJ)

include tests/fuzz/fuzz.mk

test-host: host build/kernel.elf
	@tests/run.sh host

test: deps host $(TEST_IMAGES)
	@tests/run.sh all

# `make bench`: every part of build/host/bench (bench/bench.c lists them), then pmmsim on a
# 16-socket 12 TiB map (bench/pmmsim.sh). `make bench PART=NAME` runs one part: a part of
# build/host/bench (pair, random, runs, run_pairs, frag, percpu, mixed, llfree, build, cold),
# pmmsim, or qemu: the kernel's all-CPU self-test booted 5 times each with 1, 3 and 8 vCPUs
# (bench/qemu_smp.sh; minutes, under the shared QEMU lock; not in the full run).
PART ?=
bench: deps-host build/host/bench
	@case "$(PART)" in \
	    "") build/host/bench && $(MAKE) -s build/pmmsim && bench/pmmsim.sh ;; \
	    pmmsim) $(MAKE) -s build/pmmsim && bench/pmmsim.sh ;; \
	    qemu) bench/qemu_smp.sh ;; \
	    *) build/host/bench $(PART) ;; \
	esac

# Inject each fault listed in tests/mutate.py into pmm/, one at a time, and run the host suite and
# the kernel's self-test on the real maps against it (minutes; not part of `make test`).
mutate: deps-host
	@tests/mutate.py

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
