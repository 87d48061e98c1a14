# See scripts/test.sh for what `make test` does.
FUZZTIME ?= 30s

.PHONY: test run fuzz bench

test:
	./scripts/test.sh

run:
	go run ./cmd/pochta serve

# Runs every Fuzz target of every package for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
		list=$$(go test -list '^Fuzz' $$pkg); \
		for target in $$(echo "$$list" | grep '^Fuzz' || true); do \
			echo "fuzz: $$pkg $$target ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench:
	go test -run xxx -bench . ./...
