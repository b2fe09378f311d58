# podproof: build, test and set up the machine (podman, local images).
# scripts/setup.sh is the only place that installs system software; it is idempotent
# and prints nothing when there is nothing to do.

CARGO ?= cargo
PODPROOF := ./target/release/podproof

.PHONY: all setup system images build test demo bench lint fmt teardown-check faults fuzz fresh

all: build

# Packages, podman runtime settings and every local image.
setup:
	scripts/setup.sh all
	scripts/setup.sh tools

# Packages and podman runtime settings only (plus the busybox base image).
system:
	scripts/setup.sh system

# Images only: localhost/podproof/debian:bookworm and fixtures/images/*/Containerfile.
images:
	scripts/setup.sh images

build:
	$(CARGO) build --release

# Every test, the end-to-end tests against real podman included; the schema
# differential against kubernetes-validate (installed into target/kv-venv);
# then a check that nothing labelled podproof is left.
# cargo nextest (on this machine kind) runs the podman tests one at a time in
# their test group (.config/nextest.toml) beside everything else; cargo test is
# the fallback where nextest is missing. The crate has no doctests, which nextest
# would not run.
test: setup
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --release --no-fail-fast; \
	else \
		$(CARGO) test --release -- --test-threads=4; \
	fi
	scripts/schema-differential.sh
	FAULT_RUNS=5 scripts/faults.sh
	scripts/teardown-check.sh

# The fault-injection suite: 50 runs with a random fault each; 0 leaked objects expected.
faults: setup build
	scripts/faults.sh

# The main job on a bundled example, the Prometheus app: render it, bring it up
# and show its pod running, take it down, then run its scenario test.
demo: setup build
	$(PODPROOF) render fixtures/apps/prometheus
	$(PODPROOF) up fixtures/apps/prometheus
	podman pod ps --filter label=podproof.dev/app=prom
	$(PODPROOF) down --all
	$(PODPROOF) test fixtures/tests/prometheus.yaml
	scripts/teardown-check.sh

# The from-zero check: set-up and a smoke run of the main job inside pristine
# Debian 12 and 13 containers (podman 4.3 and 5.4); see scripts/fresh.sh.
# FRESH_SUITES picks the suites, FRESH_FULL=1 runs `make demo` and `make test` inside.
fresh: build
	scripts/fresh.sh

# Speed against the targets: overhead, parallel speed-up, lint throughput,
# reload latency, teardown, peak memory (scripts/bench.sh prints one table).
bench: setup
	scripts/bench.sh

lint:
	if $(CARGO) clippy --version >/dev/null 2>&1; then \
		$(CARGO) clippy --release --all-targets -- -D warnings; \
	else \
		echo "lint: cargo clippy is not installed, skipping clippy"; \
	fi
	$(CARGO) fmt --check

# Every fuzz target for FUZZ_SECONDS each (see docs/fuzzing.md); not part of `make test`.
# Only stable Rust is assumed: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
FUZZ_TARGETS := yaml_stream load_apps app_reader test_reader reload_policy duration cli_paths
FUZZ_SECONDS ?= 60

fuzz:
	$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz
	fuzz/seed.sh
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

fmt:
	$(CARGO) fmt

# Fails if podman objects labelled podproof.dev/run are left behind.
teardown-check:
	scripts/teardown-check.sh
