# corral — developer entry points. Every target that builds first installs dependencies.
PRESET  ?= dev
BUILD   ?= build
JOBS    ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build check check-unit demo format lint guest-image bench bench-quick fuzz deb rpm clean

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

clean:
	rm -rf build build-release build-asan
