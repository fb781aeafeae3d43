# Makefile - the set-up commands (make demo, make test) and the CI passes, as thin wrappers over CMake and CTest.
#
#   make demo    install what is missing, build, print the effective configuration of the HIP sample,
#                then run the demo guest's functions with examples/demo.toml
#   make test    install what is missing, build, run every test (ends with CTest's summary)
#   make asan    the same test suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz    build and run the libFuzzer targets (scripts/fuzz.sh; FUZZ_SECONDS=60 by default)
#   make deps    only install the missing Debian packages
#   make build   only configure and build (into build/; programs in build/bin/)
#   make install build, then install into PREFIX (default /usr/local) under DESTDIR (default none):
#                the library, headers, CLI, guest SDK, pkg-config and CMake files, man pages
#   make package build the Debian packages into build-package/ (scripts/package.sh: a build with
#                prefix /usr, then cpack; docs/packages.md)
#   make clean   remove the build directories
#
# Under CI=true, warnings are errors (-DHL_WERROR=ON).

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
BUILD := $(ROOT)/build
ASAN_BUILD := $(ROOT)/build-asan
PACKAGE_BUILD := $(ROOT)/build-package
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_JOBS ?= 2
FUZZ_SECONDS ?= 60
PREFIX ?= /usr/local
DESTDIR ?=

# The HIP's sample when the shared test data sits beside the clone, else the repository's copy.
SAMPLE := $(abspath $(wildcard $(ROOT)/../shared/hyperfile-sample.toml))
DEMO_FILE := $(if $(SAMPLE),$(SAMPLE),$(ROOT)/examples/hip-sample-settings.toml)
# `hyperlight run` with the shipped example hyperfile on the demo guest (examples/guest/demoguest.c)

WERROR := $(if $(filter true,$(CI)),ON,OFF)
# Debian's python3 is the one install-deps.sh provides packages for (python3-jsonschema); prefer
# it to whatever python3 comes first on PATH (pyenv, a venv).
SYSTEM_PYTHON := $(wildcard /usr/bin/python3)
CMAKE_FLAGS := -DHL_WERROR=$(WERROR) $(if $(SYSTEM_PYTHON),-DPython3_EXECUTABLE=$(SYSTEM_PYTHON))

# keep the output of the make that `cmake --build` runs free of "Entering directory" lines
MAKEFLAGS += --no-print-directory

.PHONY: all deps build install package demo test asan fuzz clean

all: build

deps:
	@bash $(ROOT)/scripts/install-deps.sh

build: deps
	cmake -S $(ROOT) -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

package: deps
	JOBS=$(JOBS) bash $(ROOT)/scripts/package.sh $(PACKAGE_BUILD) $(CMAKE_FLAGS)

demo: build
	@echo "== the effective configuration of the HIP's sample hyperfile"
	$(BUILD)/bin/hyperlight config --hyperfile $(DEMO_FILE) --show-origin
	@bash $(ROOT)/scripts/demo.sh $(BUILD)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(TEST_JOBS)

asan: deps
	cmake -S $(ROOT) -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DHL_SANITIZE=ON -DHL_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(TEST_JOBS)

fuzz:
	@if [ -f $(ROOT)/scripts/fuzz.sh ]; then \
	  bash $(ROOT)/scripts/fuzz.sh $(FUZZ_SECONDS); \
	else \
	  echo "make fuzz: scripts/fuzz.sh does not exist yet"; \
	fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(PACKAGE_BUILD) $(ROOT)/build-fuzz
