# kseal: developer entry points. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
CARGO ?= cargo
KSEAL := target/debug/kseal
DEMO := keys-example

.PHONY: all build demo test lint fmt bench fuzz clean

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

test:
	$(CARGO) test --quiet

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --quiet -- -D warnings

fmt:
	$(CARGO) fmt --all

bench:
	bash bench/run.sh

fuzz:
	cd fuzz && $(CARGO) +nightly fuzz run parse -- -max_total_time=60

clean:
	$(CARGO) clean
