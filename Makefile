# corral — developer entry points. Every target that builds first installs dependencies.
PRESET  ?= dev
BUILD   ?= build
JOBS    ?= $(shell nproc)
CTEST_ARGS ?=

# Compiler cache: every configure below (the presets, build-plain, the fuzzers' build) compiles
# through ccache when it is installed (make deps installs it). Paths under this tree are hashed
# relative to it, so a fresh clone elsewhere on the same machine reuses what an earlier build
# compiled; a changed source, flag or compiler is a miss as usual. CCACHE_DISABLE=1 turns it off.
CCACHE := $(shell command -v ccache 2>/dev/null)
ifneq ($(CCACHE),)
export CMAKE_C_COMPILER_LAUNCHER ?= $(CCACHE)
export CMAKE_CXX_COMPILER_LAUNCHER ?= $(CCACHE)
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1
endif

.PHONY: all deps configure build build-plain check check-unit check-system check-asan demo format lint guest-image bench bench-quick fuzz deb rpm clean

all: build

deps:
	@./packaging/deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

guest-image: build
	@cmake --build $(BUILD) --target guest-image

# All tests: unit, integration (real qemu, real dbus-daemon), guest (real Linux guest under TCG).
check: build guest-image
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

check-unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit $(CTEST_ARGS)

# The whole suite but the system test under ASan + UBSan + LeakSanitizer (preset asan, build-asan/).
# Every sanitizer finding aborts the process that has it (so a test judging that process fails)
# and children (corrald, corralctl, corral-qmp) inherit the options. ASan and LSan reports go to
# build-asan/sanitizer/, so one from a process whose exit nobody judged still fails the run
# (g++'s UBSan ignores log_path: its reports stay on the process's stderr).
# The quick benches stay in: their figures mean nothing here, but they drive corrald and the QMP
# client at higher rates than the tests do, in about 2 min.
SANITIZER_LOGS = $(CURDIR)/build-asan/sanitizer
check-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cmake --build build-asan --target guest-image
	@rm -rf $(SANITIZER_LOGS) && mkdir -p $(SANITIZER_LOGS)
	@cd build-asan && \
	  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:log_path=$(SANITIZER_LOGS)/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE system $(CTEST_ARGS); rc=$$?; \
	  reports=$$(ls $(SANITIZER_LOGS)); \
	  for r in $$reports; do echo "== sanitizer report $$r"; cat $(SANITIZER_LOGS)/$$r; done; \
	  [ $$rc -eq 0 ] && [ -z "$$reports" ]

# What a packager or a user does: a plain CMake Release build (no preset, -O3) of everything,
# tests included, in build-plain/. It must compile warning-free (-Werror): g++ 12 warns at -O3
# about things -O0 never sees.
build-plain: deps
	@cmake -S . -B build-plain -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build-plain -j $(JOBS)

# The system test alone: the .deb installed and driven in a booted systemd container (root).
check-system: build guest-image
	@cd $(BUILD) && ctest --output-on-failure -L system $(CTEST_ARGS)

# Debian packages (dpkg-buildpackage, unsigned) into $(BUILD)/packages, then lintian.
deb: deps
	@JOBS=$(JOBS) ./packaging/debian/build-deb.sh . $(BUILD)/packages
	@lintian --fail-on error $(BUILD)/packages/*.changes

# Binary RPMs (rpmbuild, also on this Debian host) into $(BUILD)/rpm, with their file lists.
rpm: deps
	@JOBS=$(JOBS) ./packaging/rpm/build-rpm.sh . $(BUILD)/rpm
	@for p in $(BUILD)/rpm/*.rpm; do echo "$$p:"; rpm -qpl "$$p" | sed 's/^/  /'; done

# The main job: boot a real VM under corrald and drive it over D-Bus.
demo: build guest-image
	@./tests/demo/run-demo.sh $(BUILD)

FORMAT_FILES = $(shell git ls-files '*.cpp' '*.hpp')

format:
	@clang-format -i $(FORMAT_FILES)

lint:
	@clang-format --dry-run --Werror $(FORMAT_FILES)
	@echo "lint: clang-format clean ($(words $(FORMAT_FILES)) files)"

bench: build guest-image
	@./tests/bench/run.sh $(BUILD)

bench-quick: build guest-image
	@./tests/bench/run.sh $(BUILD) --quick

# libFuzzer (clang 14, ASan + UBSan) on every harness of tests/fuzz/, from its seed corpus, in
# build-fuzz/; figures and crashes in build-fuzz/summary.txt. fuzz-ci is the short CI run.
FUZZ_SECONDS ?= 300
.PHONY: fuzz-ci

fuzz: deps
	@./tests/fuzz/run-fuzzers.sh $(FUZZ_SECONDS)

fuzz-ci: deps
	@FUZZ_SEED=1 ./tests/fuzz/run-fuzzers.sh 30

clean:
	rm -rf build build-release build-asan
