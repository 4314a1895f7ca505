# Top-level Makefile: builds every component; see README.md.
#   make            build everything into $(BUILD)
#   make check      all tests (unit, transport, Xen back-ends under xenshim, salt, integration)
#   make check-san  the same under ASan + UBSan (separate build directory)
#   make fuzz       libFuzzer targets (clang); FUZZ_SECONDS=N runs each for N seconds
#   make install    PREFIX (/usr/local) and DESTDIR honoured; make install-tools: gui-agent and the rig

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
LIBS        = $(XEN_LIBS) -lpthread -lseccomp

SAN = -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# one version for every program's --version and the packages: the first line of the file "version"
VERSION := $(shell head -n 1 version)
VERSION_DEF = -DQGUI_VERSION='"$(VERSION)"'

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
UNIT_BINS  = $(patsubst %.c,$(BUILD)/%,$(wildcard tests/unit/*.c tests/gd/*.c tests/integration/*.c tests/hostile/*.c))
XEN_BINS   = $(patsubst %.c,$(BUILD)/%,$(wildcard tests/xen/*.c))
SHIM       = $(BUILD)/libxenshim.so
PY_TESTS   = $(wildcard tests/salt/test_*.py tests/pkg/test_*.py)
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

# version.o alone carries the version: a new version rebuilds only it
$(BUILD)/gui-protocol/src/version.o: version
$(BUILD)/gui-protocol/src/version.o: ALL_CFLAGS += $(VERSION_DEF)

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

$(BUILD)/tests/hostile/%: tests/hostile/%.c $(LIB) $(GD_LIB) $(COMMON_LIB) $(TLIB) tests/lib/*.h
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

# test_sandbox's probe, preloaded into the four programs; never sanitized (it runs inside them, before libasan)
PROBE = $(BUILD)/tests/preload/sandbox_probe.so

$(PROBE): tests/preload/sandbox_probe.c tests/preload/sandbox_probe.h
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -fPIC -shared -o $@ $<

$(BUILD)/tests/integration/test_sandbox: $(PROBE)

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
             -Igui-protocol/include -Igui-protocol/src -Itests/lib -Itests/fuzz $(VERSION_DEF)
# tests/fuzz/*.c that are not fuzz_*.c are helpers (fz.c: in-memory transport, fake grant owner; stubs of the
# X sides); each target links the helpers, the library, and the program modules it fuzzes with X stubbed
FUZZ_HELP  = tests/fuzz/fz.c
FUZZ_EXTRA_fuzz_session = tests/fuzz/stub_x11.c gui-daemon/session.c gui-daemon/config.c
FUZZ_INC_fuzz_session   = -Igui-daemon -Icommon
FUZZ_LIBS_fuzz_session  = -lconfig
FUZZ_EXTRA_fuzz_proxy   = tests/fuzz/stub_pxx.c guivm-proxy/proxy_session.c
FUZZ_INC_fuzz_proxy     = -Iguivm-proxy -Icommon

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_HELP) $(LIB_SRCS) $(HEADERS) $(wildcard tests/fuzz/*.h tests/lib/*.h)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(FUZZ_INC_$*) -o $@ $< $(FUZZ_HELP) $(FUZZ_EXTRA_$*) $(LIB_SRCS) $(LIBS) \
		$(FUZZ_LIBS_$*)

$(BUILD)/fuzz/fuzz_session: $(FUZZ_EXTRA_fuzz_session) $(wildcard gui-daemon/*.h common/*.h)
$(BUILD)/fuzz/fuzz_proxy: $(FUZZ_EXTRA_fuzz_proxy) $(wildcard guivm-proxy/*.h common/*.h)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -close_fd_mask=2 $(BUILD)/fuzz/corpus-$$n \
			tests/fuzz/seeds/$$n \
			2>$(BUILD)/fuzz/$$n.log || { tail -50 $(BUILD)/fuzz/$$n.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|Done' $(BUILD)/fuzz/$$n.log; \
	done

# ---------------------------------------------------------------- man pages, install, packages
# Section 1 pages come from each program's --help and --version (help2man) plus man/<prog>.h2m;
# guid.conf.5 and guivm-stack-session.1 are written in roff. man/: `man -l` reads them all.
MAN1_GEN   = gui-daemon guivm-export guivm-proxy
MAN1_TOOLS = gui-agent guivm-stack-rig
HELP2MAN   = help2man -N --no-discard-stderr -s 1 -S guivm-stack

$(BUILD)/man/guivm-stack-rig.1: $(BUILD)/bin/rig man/guivm-stack-rig.h2m version
	@mkdir -p $(dir $@)
	@echo '  MAN     $@'
	$(Q)$(HELP2MAN) -i man/guivm-stack-rig.h2m -o $@ $<

$(BUILD)/man/%.1: $(BUILD)/bin/% man/%.h2m version
	@mkdir -p $(dir $@)
	@echo '  MAN     $@'
	$(Q)$(HELP2MAN) -i man/$*.h2m -o $@ $<

man: $(MAN1_GEN:%=$(BUILD)/man/%.1) $(MAN1_TOOLS:%=$(BUILD)/man/%.1)

# Where things go. The packages use PREFIX=/usr (and Debian UNITDIR=/lib/systemd/system); the
# session scripts and units are the Salt formula's files (salt/guivm-stack/files), with their
# /usr/bin and /usr/lib/guivm-stack paths rewritten for PREFIX. Binaries are installed
# unstripped: the package builds strip them (and keep debug symbols apart).
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
LIBEXECDIR ?= $(PREFIX)/lib/guivm-stack
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SALT_FILES  = salt/guivm-stack/files
FIX_PATHS   = sed -e 's|/usr/bin/gui-daemon|$(BINDIR)/gui-daemon|g' -e 's|/usr/bin/guivm-export|$(BINDIR)/guivm-export|g' \
              -e 's|/usr/bin/guivm-proxy|$(BINDIR)/guivm-proxy|g' -e 's|/usr/lib/guivm-stack/|$(LIBEXECDIR)/|g'

# gui-daemon, guivm-export and their helpers (GUI qube); guivm-proxy and the session script (dom0)
install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(DATADIR)/guivm-stack $(DESTDIR)$(SYSCONFDIR)/qubes-rpc \
		$(DESTDIR)$(UNITDIR)/qubes-gui-agent.service.d
	install -m 0755 $(GD_BIN) $(BUILD)/bin/guivm-export $(BUILD)/bin/guivm-proxy $(DESTDIR)$(BINDIR)/
	$(FIX_PATHS) $(SALT_FILES)/guivm-stack-session >$(DESTDIR)$(BINDIR)/guivm-stack-session
	$(FIX_PATHS) $(SALT_FILES)/use-gui-daemon >$(DESTDIR)$(LIBEXECDIR)/use-gui-daemon
	$(FIX_PATHS) $(SALT_FILES)/gui-qube-session >$(DESTDIR)$(LIBEXECDIR)/gui-qube-session
	$(FIX_PATHS) $(SALT_FILES)/guivm-stack.Session >$(DESTDIR)$(SYSCONFDIR)/qubes-rpc/guivm-stack.Session
	chmod 0755 $(DESTDIR)$(BINDIR)/guivm-stack-session $(DESTDIR)$(LIBEXECDIR)/use-gui-daemon \
		$(DESTDIR)$(LIBEXECDIR)/gui-qube-session $(DESTDIR)$(SYSCONFDIR)/qubes-rpc/guivm-stack.Session
	$(FIX_PATHS) $(SALT_FILES)/guivm-stack-guid.service >$(DESTDIR)$(UNITDIR)/guivm-stack-guid.service
	install -m 0644 $(SALT_FILES)/qubes-gui-agent-dropin.conf \
		$(DESTDIR)$(UNITDIR)/qubes-gui-agent.service.d/50-guivm-stack.conf
	chmod 0644 $(DESTDIR)$(UNITDIR)/guivm-stack-guid.service
	install -m 0644 $(MAN1_GEN:%=$(BUILD)/man/%.1) man/guivm-stack-session.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/guid.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 gui-daemon/guid.conf.example $(DESTDIR)$(DATADIR)/guivm-stack/

# Debian packages (dpkg-buildpackage -us -uc -b, lintian errors fail) into build/pkg/deb
deb: deps
	@tools/pkg deb

# RPMs for Fedora dom0 and templates (rpmbuild -bb rpm/qubes-guivm-stack.spec) into build/pkg/rpm
rpm: deps
	@tools/pkg rpm

# the developers' tools, never part of a Qubes install: gui-agent and the rig (as guivm-stack-rig)
install-tools: all $(BUILD)/bin/rig man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BUILD)/bin/gui-agent $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BUILD)/bin/rig $(DESTDIR)$(BINDIR)/guivm-stack-rig
	install -m 0644 $(MAN1_TOOLS:%=$(BUILD)/man/%.1) $(DESTDIR)$(MANDIR)/man1/


clean:
	rm -rf build build-san

.PHONY: all deps check check-run check-san bench demo demo-live fuzz fuzz-build install clean \
	man install-tools deb rpm
.SECONDARY:
