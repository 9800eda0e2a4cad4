# kseal: developer entry points. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
CARGO ?= cargo
KSEAL := target/debug/kseal
DEMO := keys-example

.PHONY: all build demo test lint fmt bench release fuzz mutants clean man install uninstall

all: build

build:
	$(CARGO) build --quiet

# Encrypt the example Secret with the demo (public, insecure) key, show it, decrypt it again.
demo: build
	@echo "== keys-example/secret.yaml, as committed (plain) =="
	@cat $(DEMO)/secret.yaml
	@echo
	@echo "== kseal encrypt --age $$(cat $(DEMO)/demo.recipient) $(DEMO)/secret.yaml =="
	@$(KSEAL) encrypt --age "$$(cat $(DEMO)/demo.recipient)" $(DEMO)/secret.yaml > target/demo-secret.enc.yaml
	@cat target/demo-secret.enc.yaml
	@echo
	@echo "== kseal decrypt --identity $(DEMO)/demo.agekey (MAC verified) =="
	@env -u KSEAL_AGE_KEY -u SOPS_AGE_KEY $(KSEAL) decrypt --identity $(DEMO)/demo.agekey target/demo-secret.enc.yaml
	@echo
	@echo "== round trip is byte for byte: =="
	@env -u KSEAL_AGE_KEY -u SOPS_AGE_KEY $(KSEAL) decrypt --identity $(DEMO)/demo.agekey target/demo-secret.enc.yaml | cmp - $(DEMO)/secret.yaml && echo "identical"
	@echo
	@echo "== a multi-document file: only the Secret is sealed =="
	@$(KSEAL) encrypt --age "$$(cat $(DEMO)/demo.recipient)" $(DEMO)/app.yaml | head -n 40

# tests/cli/gitops.rs runs the README's `cargo install --locked --path .` for real, into a
# temporary --root. Under CI (CI=true, which .ci/run sets) as written: Cargo.toml's release
# profile (fat LTO), minutes on two cores. Locally the same command with the release profile
# overridden (CARGO_PROFILE_RELEASE_OPT_LEVEL=0, LTO off, 16 codegen units, incremental) and its
# build kept in target/install-test/dev, so `make test` stays bearable: about a minute once warm.
test:
	$(CARGO) test --quiet

# The man page and shell completions, generated from the clap definitions.
man: build
	@mkdir -p target/man target/completions
	$(KSEAL) man > target/man/kseal.1
	for sh in bash zsh fish; do $(KSEAL) completions $$sh > target/completions/kseal.$$sh; done
	@echo "target/man/kseal.1 (man -l target/man/kseal.1), target/completions/"

# Installs kseal under PREFIX (default /usr/local; `make install PREFIX=~/.local` for one user)
# with its man page and shell completions where man, bash-completion, zsh and fish look for
# them, and the documentation (README.md, docs/, contrib/) under share/doc/kseal. DESTDIR is prepended for packagers.
# KSEAL_BIN installs a binary built elsewhere instead of building the release one here.
PREFIX ?= /usr/local
KSEAL_BIN ?= target/release/kseal
BINDIR = $(DESTDIR)$(PREFIX)/bin
SHAREDIR = $(DESTDIR)$(PREFIX)/share
install:
ifeq ($(KSEAL_BIN),target/release/kseal)
	$(CARGO) build --release --locked --quiet
endif
	install -d $(BINDIR) $(SHAREDIR)/man/man1 $(SHAREDIR)/bash-completion/completions \
	  $(SHAREDIR)/zsh/site-functions $(SHAREDIR)/fish/vendor_completions.d \
	  $(SHAREDIR)/doc/kseal/docs/integrations
	install -m 0755 $(KSEAL_BIN) $(BINDIR)/kseal
	$(KSEAL_BIN) man > $(SHAREDIR)/man/man1/kseal.1
	$(KSEAL_BIN) completions bash > $(SHAREDIR)/bash-completion/completions/kseal
	$(KSEAL_BIN) completions zsh > $(SHAREDIR)/zsh/site-functions/_kseal
	$(KSEAL_BIN) completions fish > $(SHAREDIR)/fish/vendor_completions.d/kseal.fish
	install -m 0644 README.md $(SHAREDIR)/doc/kseal/
	install -m 0644 docs/*.md $(SHAREDIR)/doc/kseal/docs/
	install -m 0644 docs/integrations/*.md $(SHAREDIR)/doc/kseal/docs/integrations/
	cp -R contrib $(SHAREDIR)/doc/kseal/
	@echo "installed $(BINDIR)/kseal ($$($(BINDIR)/kseal --version)), its man page, completions and docs"

uninstall:
	rm -f $(BINDIR)/kseal $(SHAREDIR)/man/man1/kseal.1 \
	  $(SHAREDIR)/bash-completion/completions/kseal $(SHAREDIR)/zsh/site-functions/_kseal \
	  $(SHAREDIR)/fish/vendor_completions.d/kseal.fish
	rm -rf $(SHAREDIR)/doc/kseal

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --quiet -- -D warnings

fmt:
	$(CARGO) fmt --all

bench:
	bash bench/run.sh

# The release binary as measured by `make bench` (and as a release should ship it): linked
# statically (`crt-static`: no dynamic loader, no shared-library symbol lookups at start-up,
# still position-independent for ASLR) with packed relative relocations (RELR: a 230 KB
# relocation table becomes a few KB to read at each start). RUSTFLAGS need an explicit
# --target, or they would also apply to the proc-macros, which cannot be static. Prints the
# binary's path. `cargo install` builds the ordinary dynamically linked binary.
RELEASE_TARGET ?= $(shell rustc -vV | sed -n 's/^host: //p')
RELEASE_RUSTFLAGS ?= -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs
release:
	RUSTFLAGS="$(RELEASE_RUSTFLAGS)" $(CARGO) build --release --locked --quiet --bin kseal \
	  --target $(RELEASE_TARGET)
	@echo target/$(RELEASE_TARGET)/release/kseal

# cargo-fuzz targets (fuzz/ is its own crate, outside `cargo test`). Each target runs for
# FUZZ_TIME seconds on its corpus (fuzz/corpus/TARGET, kept out of Git) seeded from fixtures.
# RUSTC_BOOTSTRAP lets a stable toolchain take the -Z flags cargo-fuzz passes; crashers land
# in fuzz/artifacts/TARGET and become regression tests in tests/cli/hardening.rs.
FUZZ_TIME ?= 60
FUZZ_TARGETS ?= yaml_roundtrip decrypt_bytes enc_value identity_file
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz"; exit 1; }
	@set -e; cd fuzz; for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t; \
	  case $$t in \
	    yaml_roundtrip) seeds="$(CURDIR)/tests/fixtures/corpus";; \
	    decrypt_bytes) seeds="$(CURDIR)/tests/fixtures/sops-made";; \
	    *) seeds="seeds/$$t";; \
	  esac; \
	  echo "== fuzz $$t for $(FUZZ_TIME)s"; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t $$seeds -- -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048; \
	done

# Mutation testing of the crypto core with cargo-mutants (`cargo install --locked
# cargo-mutants@27.1.0`): src/sops/, src/yaml/splice.rs and src/keys/ against the library's
# unit tests (.cargo/mutants.toml). Not part of `make test` or CI: it rebuilds the library for
# every mutant (hours on 2 cores). MUTANTS_RE narrows it to the mutants whose name matches, e.g.
# `make mutants MUTANTS_RE=src/sops/value.rs`; MUTANTS_JOBS builds in parallel. cargo-mutants
# tests a copy of the tree without target/ (library tests read tests/fixtures, which is copied;
# the C2SP vector test gets the original's target/node through KSEAL_TEST_NODE_MODULES): the
# copy goes under target/mutants/tmp, the build under target/mutants/build, the results
# (caught.txt, missed.txt, ...) to target/mutants/mutants.out. MUTANTS_ARGS passes more flags,
# e.g. `MUTANTS_ARGS=--baseline=skip` once a baseline has passed.
MUTANTS_JOBS ?= 1
MUTANTS_RE ?=
MUTANTS_ARGS ?=
mutants:
	@command -v cargo-mutants >/dev/null || { echo "cargo-mutants is missing: cargo install --locked cargo-mutants@27.1.0"; exit 1; }
	@mkdir -p target/mutants/tmp
	TMPDIR="$(CURDIR)/target/mutants/tmp" CARGO_TARGET_DIR="$(CURDIR)/target/mutants/build" \
	  KSEAL_TEST_NODE_MODULES="$(CURDIR)/target/node/node_modules" \
	  $(CARGO) mutants -j $(MUTANTS_JOBS) -o target/mutants $(if $(MUTANTS_RE),-F '$(MUTANTS_RE)') $(MUTANTS_ARGS)

clean:
	$(CARGO) clean
