# tocsin — build, test and run the demo. `make help` lists the targets.

GO        ?= go
PKG       := github.com/tocsin-alerting/tocsin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
             -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null) \
             -X $(VPKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME ?= 1x

FUZZTIME ?= 1m
# package:FuzzName pairs that `make fuzz` runs; `make test` runs their seed
# corpora as ordinary tests.
FUZZ_TARGETS := ./configs:FuzzLoad ./rules:FuzzCheck ./internal/server:FuzzPushBodies ./internal/amapi:FuzzAPIBodies ./notifiers:FuzzStateValues ./internal/amapi:FuzzAlertsDecodeAsGenerated
# how much `make test` fuzzes each target after the tests: a count of
# inputs, not a duration. Go 1.26's fuzzer can report a bare "context deadline
# exceeded" when a -fuzztime duration ends while a starved worker is still
# running an input (golang/go#75804, fixed in Go 1.27); a count has no deadline.
FUZZSHORT ?= 5000x

.PHONY: all build test lint bench fuzz crash-test demo demo-ha clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/tocsin
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/tocsin ./cmd/tocsin

test: ## vet, run every test with the race detector, then fuzz each target with FUZZSHORT inputs
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZSHORT)

lint: ## gofmt check, go vet, and staticcheck when it installs
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if $(GO) run $(STATICCHECK) -version >/dev/null 2>&1; then $(GO) run $(STATICCHECK) ./...; \
	 else echo "staticcheck could not be installed from the module proxy; skipped"; fi

fuzz: ## fuzz the config decoder, the rule-file checker, the push endpoints, the Alertmanager API bodies and the notification state's values, FUZZTIME each
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzzing $$name in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench: ## run the benchmarks (figures go into docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...

KILLS ?= 25
crash-test: ## kill -9 a real tocsin KILLS times while alerts fire and vendors fail, and count what arrived
	TOCSIN_CRASH_KILLS=$(KILLS) $(GO) test -race -count=1 -timeout 30m -run TestKill9AtRandomMoments -v ./cmd/tocsin/

demo: build ## replay the incident: broker breaks, pages leave through several vendors
	$(GO) run ./examples/particle

demo-ha: build ## the incident against three replicas; the one that would page is killed at the break
	$(GO) run ./examples/particle/ha

clean: ## remove build output and local data
	rm -rf bin data
