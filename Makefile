# Panguard Auth. `make help` lists the targets.
GO ?= go
PKGS := ./...

.PHONY: help run dev build test test-browser test-short test-readme test-resilience fuzz bench generate lint contract tidy clean
FUZZTIME ?= 10s
# FuzzHTTP spends its first ~20 seconds replaying ~800 seeds (every body on every operation of
# both contracts) through the whole service.
FUZZTIME_HTTP ?= 45s

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: build ## build, then run the service on its embedded default (SQLite file ./panguard-auth.db, port 3000)
	exec bin/panguard-auth

dev: ## the dashboard's dev server with live reload on http://localhost:5173, proxying the API to a service already running on :3000 (make run in another terminal; PANGUARD_DEV_API=URL for another)
	.ci/npm-ci sdk/web internal/dashboard/web
	cd internal/dashboard/web && exec npm run dev

build: ## build the service binary into bin/
	$(GO) build -ldflags "-X main.version=$(shell git describe --always --dirty 2>/dev/null || echo devel)" -o bin/panguard-auth ./service

RESILIENCE := TestReplicasBehaveAsOne|TestCrashKeepsEveryAcknowledgedWrite|TestDatabaseOutage

# Security properties measured in time and memory: run on their own, without -race and
# without the parallel suite beside them, so other tests' load cannot make them flaky.
PROPERTIES := TestEqualTiming|TestThousandConcurrentLoginsStayBounded|TestCompressionBombsAreRefusedByEveryRPCHandler

# The README, run top to bottom against a live service (it waits out a 30-second TOTP step).
README_TEST := TestReadmeRunsTopToBottom

test: ## run every test, on SQLite and PostgreSQL: the suite with -race, then the timing and memory properties alone, then the README run top to bottom against a live service, then the multi-process resilience tests (starts a throwaway PostgreSQL unless PANGUARD_TEST_POSTGRES_URL is set; installs oathtool, which the README uses, when missing), then the dashboard's browser tests (test-browser)
	.ci/need oathtool
	.ci/with-postgres sh -c '.ci/gotest -race -count=1 -skip "^($(PROPERTIES)|$(README_TEST))$$" $(PKGS) && .ci/gotest -count=1 -p 1 -run "^($(PROPERTIES))$$" ./internal/server ./service && .ci/gotest -count=1 -run "^$(README_TEST)$$" ./service && PANGUARD_RESILIENCE=1 .ci/gotest -count=1 -run "$(RESILIENCE)" ./service'
	.ci/browser-tests

test-browser: ## the dashboard's browser tests: Playwright driving Chromium against a real service with an SMTP sink (installs Chromium with apt and the npm dependencies when missing; needs Node.js 20.19+); screenshots land in internal/dashboard/web/test-results/screenshots
	.ci/browser-tests

test-resilience: ## only the replicas, SIGKILL crash-safety and database-outage tests, with real processes
	.ci/with-postgres env PANGUARD_RESILIENCE=1 .ci/gotest -count=1 -run '$(RESILIENCE)' ./service

test-short: ## run the tests on SQLite only (no PostgreSQL needed)
	$(GO) test -count=1 -skip '^$(README_TEST)$$' $(PKGS)

test-readme: ## run README.md's sh blocks top to bottom against a live service
	.ci/need oathtool
	$(GO) test -count=1 -v -run '^$(README_TEST)$$' ./service

BUF := $(GO) tool -modfile=$(CURDIR)/.tools/buf/go.mod buf

fuzz: ## run every fuzz target for FUZZTIME each (default 10s; FuzzHTTP FUZZTIME_HTTP, 45s)
	$(GO) test -run '^$$' -fuzz '^FuzzHTTP$$' -fuzztime $(FUZZTIME_HTTP) ./internal/server
	$(GO) test -run '^$$' -fuzz '^FuzzValidators$$' -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePHC$$' -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz '^FuzzTokenParse$$' -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME) ./sdk/apitime

# BENCHFLAGS picks parts, e.g. BENCHFLAGS='-only openloop,growth -out /tmp/partial.md' (a partial
# report; -only takes ceilings, ops, storm, growth, openloop, verify); `go run ./internal/bench -h`
# lists the rest (durations, -storm-designs, -profile DIR).
bench: ## measure against the machine's ceilings on SQLite and PostgreSQL; writes BENCHMARKS.md and internal/bench/storm-latency.svg (about 10 minutes)
	.ci/with-postgres $(GO) run ./internal/bench $(BENCHFLAGS)

generate: ## regenerate the REST server, SDK and RPC code (Go and TypeScript) from openapi.yaml and proto/, and rebuild the dashboard into internal/dashboard/dist (needs Node.js for the TypeScript)
	$(GO) generate $(PKGS)
	.ci/npm-ci sdk/web internal/dashboard/web
	cd proto && $(BUF) generate
	cd internal/dashboard/web && npm run --silent build

# BREAKING_AGAINST is what `buf breaking` compares the proto with: the main branch of this clone.
BREAKING_AGAINST ?= $(CURDIR)/.git\#branch=main,subdir=proto

lint: ## go vet, staticcheck, gofmt, buf lint, buf format and buf breaking (against main)
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	cd proto && $(BUF) lint
	cd proto && $(BUF) format -d --exit-code
	cd proto && $(BUF) breaking --against '$(BREAKING_AGAINST)'
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

# The third-party OpenAPI tools, pinned in .tools/openapi/package-lock.json; npm ci installs
# them again whenever the lock file changes. Redocly's CLI would otherwise report usage and
# look for updates.
OPENAPI_TOOLS := .tools/openapi
OPENAPI_BIN := $(OPENAPI_TOOLS)/node_modules/.bin
REDOCLY := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(OPENAPI_BIN)/redocly

$(OPENAPI_TOOLS)/node_modules/.installed: $(OPENAPI_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "make contract needs Node.js 20+ and npm"; exit 1; }
	cd $(OPENAPI_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

contract: $(OPENAPI_TOOLS)/node_modules/.installed ## lint the contract with redocly and spectral and check live traffic through prism
	$(REDOCLY) lint --config $(OPENAPI_TOOLS)/redocly.yaml openapi.yaml
	$(OPENAPI_BIN)/spectral lint --fail-severity=warn --ruleset $(OPENAPI_TOOLS)/.spectral.yaml openapi.yaml
	.ci/prism-check

tidy: ## go mod tidy
	$(GO) mod tidy

clean: ## remove build output and the default database
	rm -rf bin panguard-auth.db panguard-auth.db-* panguard-auth.db.migrate-lock
