# The two commands a newcomer needs:
#   make run    install what is missing, build, start hongyand (domain localhost, data in ./data)
#   make test   install what is missing, build, run every test
# Extra arguments for the server: make run ARGS="--set c2s.port=15222"

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: run test test-asan build build-asan deps deps-test format format-check docs bench clean

run: deps build
	./$(BUILD)/hongyand $(ARGS)

test: deps-test build
	ctest --test-dir $(BUILD) --output-on-failure -j2 --timeout 600

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps-test build-asan
	HONGYAN_BUILD=$(ASAN_BUILD) ctest --test-dir $(ASAN_BUILD) --output-on-failure -j2 --timeout 900

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHONGYAN_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

deps:
	@./scripts/install-deps.sh

deps-test:
	@./scripts/install-deps.sh --test

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

# Regenerates the parts of docs/ that come from the code.
docs: build
	./scripts/gen-docs.sh $(BUILD)

bench: build
	@./scripts/install-deps.sh --bench
	./bench/compare.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
