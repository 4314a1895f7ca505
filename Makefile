# Top-level Makefile: builds every component; see README.md.
#   make            build everything into $(BUILD)
#   make check      all tests (unit, transport, Xen back-ends under xenshim, salt, integration)
#   make check-san  the same under ASan + UBSan (separate build directory)
#   make fuzz       libFuzzer targets (clang); FUZZ_SECONDS=N runs each for N seconds
#   make install    PREFIX (/usr/local) and DESTDIR honoured

# V=1 shows every command
Q = $(if $(V),,@)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
BUILD   ?= build
CC      ?= gcc
CLANG   ?= clang

OPT      ?= -O2
CFLAGS   ?=
LDFLAGS  ?=
WARN     = -Wall -Wextra -Werror -Wformat=2 -Wformat-security -Wstrict-prototypes \
           -Wmissing-prototypes -Wold-style-definition -Wpointer-arith -Wundef -Wvla \
           -Walloca -Wimplicit-fallthrough -Wshadow
HARDEN   = -fno-common -fno-strict-aliasing -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2 \
           -ftrivial-auto-var-init=zero
STRICT   = -Wconversion -Wsign-conversion
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) $(HARDEN) -Igui-protocol/include $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now,-z,noexecstack $(LDFLAGS)
XEN_LIBS    = -lxenvchan -lxengnttab
LIBS        = $(XEN_LIBS) -lpthread

SAN = -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# ---------------------------------------------------------------- gui-protocol (libqgui)
LIB_SRCS = $(wildcard gui-protocol/src/*.c)
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      = $(BUILD)/libqgui.a
HEADERS  = $(wildcard gui-protocol/include/*.h gui-protocol/include/qgui/*.h)

# ---------------------------------------------------------------- common: helpers shared by the programs
# common/*.c (X error handlers, XTEST injection, the agent command line, signals) in one archive,
# so that each program (and each test linking libgd.a) pulls only the modules it calls
COMMON_OBJS = $(patsubst %.c,$(BUILD)/%.o,$(wildcard common/*.c))
COMMON_LIB  = $(BUILD)/libcommon.a

$(BUILD)/common/%.o: common/%.c common/*.h $(HEADERS)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) -Icommon -c -o $@ $<

$(COMMON_LIB): $(COMMON_OBJS)
	@echo '  AR      $@'
	$(Q)rm -f $@ && ar rcs $@ $^

# ---------------------------------------------------------------- gui-daemon
GD_SRCS  = $(filter-out gui-daemon/main.c,$(wildcard gui-daemon/*.c))
GD_OBJS  = $(GD_SRCS:%.c=$(BUILD)/%.o)
GD_LIB   = $(BUILD)/libgd.a
GD_BIN   = $(BUILD)/bin/gui-daemon
X_LIBS   = -lX11 -lX11-xcb -lxcb -lxcb-shm -lXext -lconfig -lpng

$(BUILD)/gui-daemon/%.o: gui-daemon/%.c gui-daemon/*.h common/*.h $(HEADERS)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) -Igui-daemon -Icommon -c -o $@ $<

$(GD_LIB): $(GD_OBJS)
	@echo '  AR      $@'
	$(Q)rm -f $@ && ar rcs $@ $^

$(GD_BIN): $(BUILD)/gui-daemon/main.o $(GD_LIB) $(COMMON_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(X_LIBS) $(LIBS)

# ---------------------------------------------------------------- guivm-proxy, guivm-export, gui-agent
# guivm-proxy/proxy*.c -> guivm-proxy; guivm-proxy/export*.c -> guivm-export; gui-agent/*.c -> gui-agent;
# common/ (libcommon.a) in each
X_EXTRA   = -lXdamage -lXcomposite -lXrandr -lXfixes -lXtst -lxcb-damage -lxcb-composite -lxcb-randr \
            -lxcb-xfixes -lxcb-xtest
PX_OBJS   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard guivm-proxy/proxy*.c))
EX_OBJS   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard guivm-proxy/export*.c))
AG_OBJS   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard gui-agent/*.c))

$(BUILD)/guivm-proxy/%.o: guivm-proxy/%.c $(wildcard guivm-proxy/*.h common/*.h) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) -Iguivm-proxy -Icommon -c -o $@ $<

$(BUILD)/gui-agent/%.o: gui-agent/%.c $(wildcard gui-agent/*.h common/*.h) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) -Igui-agent -Icommon -c -o $@ $<

$(BUILD)/bin/guivm-proxy: $(PX_OBJS) $(COMMON_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(X_LIBS) $(X_EXTRA) $(LIBS)

$(BUILD)/bin/guivm-export: $(EX_OBJS) $(COMMON_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(X_LIBS) $(X_EXTRA) $(LIBS)

$(BUILD)/bin/gui-agent: $(AG_OBJS) $(COMMON_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(X_LIBS) $(X_EXTRA) $(LIBS)

BINS = $(if $(wildcard gui-daemon/main.c),$(GD_BIN)) \
       $(if $(PX_OBJS),$(BUILD)/bin/guivm-proxy) $(if $(EX_OBJS),$(BUILD)/bin/guivm-export) \
       $(if $(AG_OBJS),$(BUILD)/bin/gui-agent)

# ---------------------------------------------------------------- tests
TLIB_SRCS  = $(wildcard tests/lib/*.c)
TLIB_OBJS  = $(TLIB_SRCS:%.c=$(BUILD)/%.o)
TLIB       = $(BUILD)/libtest.a
UNIT_BINS  = $(patsubst %.c,$(BUILD)/%,$(wildcard tests/unit/*.c tests/gd/*.c tests/integration/*.c))
XEN_BINS   = $(patsubst %.c,$(BUILD)/%,$(wildcard tests/xen/*.c))
SHIM       = $(BUILD)/libxenshim.so
PY_TESTS   = $(wildcard tests/salt/test_*.py)
FUZZ_SRCS  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60

all: $(LIB) $(BINS)

$(BUILD)/gui-protocol/%.o: gui-protocol/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) $(STRICT) -c -o $@ $<

$(BUILD)/tests/lib/%.o: tests/lib/%.c tests/lib/*.h $(HEADERS)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo '  AR      $@'
	$(Q)rm -f $@ && ar rcs $@ $^

# every tests/lib object in one archive: each test program pulls only the objects it uses
$(TLIB): $(TLIB_OBJS)
	@mkdir -p $(dir $@)
	@echo '  AR      $@'
	$(Q)rm -f $@ && ar rcs $@ $^

# unit and Xen tests link the test library and libqgui; gd/ tests also gui-daemon's modules and the
# common/ helpers they call; integration tests (and the rig's own test) the whole rig
TEST_LINK = $(CC) $(ALL_CFLAGS) -Itests/lib -Igui-protocol/src -Igui-daemon $(ALL_LDFLAGS) -o $@ $< $(1) \
		$(LIB) $(X_LIBS) $(X_EXTRA) $(LIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) $(TLIB) tests/lib/*.h
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(call TEST_LINK,$(TLIB))

$(BUILD)/tests/gd/%: tests/gd/%.c $(LIB) $(GD_LIB) $(COMMON_LIB) $(TLIB) tests/lib/*.h
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(call TEST_LINK,$(TLIB) $(GD_LIB) $(COMMON_LIB))

$(BUILD)/tests/integration/%: tests/integration/%.c $(LIB) $(GD_LIB) $(COMMON_LIB) $(TLIB) tests/lib/*.h
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(call TEST_LINK,$(TLIB) $(GD_LIB) $(COMMON_LIB))

$(BUILD)/tests/unit/test_rig: tests/unit/test_rig.c $(LIB) $(TLIB) tests/lib/*.h
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(call TEST_LINK,$(TLIB))

# the Xen-API shim of shared/tools/xenshim (vendored in tests/xenshim)
$(SHIM): tests/xenshim/xenshim.c
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) -std=gnu11 $(OPT) -g -Wall -Wextra -Werror $(CFLAGS) -fPIC -shared -fvisibility=hidden -pthread \
		$(LDFLAGS) -o $@ $<

# the shim's own test (shared/tools/xenshim), built as a Xen program and run under the shim
XSHIM_TEST = $(BUILD)/tests/xenshim/xenshim-test

$(XSHIM_TEST): tests/xenshim/xenshim-test.c
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -DHAVE_XCB_SHM $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(XEN_LIBS) -lxcb -lxcb-shm

# LD_PRELOAD for the Xen tests: under ASan, libasan must come first
PRELOAD = $(if $(findstring address,$(CFLAGS)),$(shell $(CC) -print-file-name=libasan.so):)$(CURDIR)/$(SHIM)

TEST_PROGS = $(UNIT_BINS) \
	$(foreach b,$(XEN_BINS) $(XSHIM_TEST),'env LD_PRELOAD=$(PRELOAD) $(b)') \
	$(foreach t,$(PY_TESTS),'python3 $(t)')

deps:
	@tools/deps

# the README's test command: install step first, then build and run everything
check: deps
	@$(MAKE) --no-print-directory check-run

check-run: $(LIB) $(BINS) $(UNIT_BINS) $(XEN_BINS) $(SHIM) $(XSHIM_TEST)
	@tests/run $(BUILD)/test-logs $(TEST_PROGS)

check-san: deps
	@$(MAKE) --no-print-directory BUILD=build-san CFLAGS="$(SAN)" LDFLAGS="$(SAN)" check-run

# the rig tool (tools/rig.c) reuses the test rig's X server and process helpers
$(BUILD)/bin/rig: tools/rig.c $(LIB) $(TLIB_OBJS) tests/lib/*.h
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib $(ALL_LDFLAGS) -o $@ $< $(TLIB_OBJS) $(LIB) $(X_LIBS) $(X_EXTRA) $(LIBS)

# benchmarks (bench/*.c): ratios measured side by side in one run; never part of make check
BENCH_BINS = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

$(BUILD)/bench/%: bench/%.c $(LIB) $(GD_LIB) $(TLIB_OBJS) tests/lib/*.h
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib $(ALL_LDFLAGS) -o $@ $< $(TLIB_OBJS) $(LIB) $(X_LIBS) $(X_EXTRA) $(LIBS)

bench: deps
	@$(MAKE) --no-print-directory all $(SHIM) $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# the README's first command: the whole stack, headless, ending in a screenshot and a summary
demo: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bin/rig
	@$(BUILD)/bin/rig --demo --out=$(BUILD)/demo

# the same rig with dom0 as a Xephyr window on your desktop ($$DISPLAY); Ctrl-C stops it
demo-live: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bin/rig
	@$(BUILD)/bin/rig --live

# ---------------------------------------------------------------- fuzzing
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
             -Igui-protocol/include -Igui-protocol/src -Itests/lib

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CLANG) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) $(LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/fuzz/corpus-$$n tests/fuzz/seeds/$$n \
			2>$(BUILD)/fuzz/$$n.log || { tail -50 $(BUILD)/fuzz/$$n.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|Done' $(BUILD)/fuzz/$$n.log; \
	done

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(BINDIR)
	$(if $(BINS),install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/)

clean:
	rm -rf build build-san

.PHONY: all deps check check-run check-san bench demo demo-live fuzz fuzz-build install clean
.SECONDARY:
