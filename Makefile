# ssewasm: `make run` builds and starts the demo; `make test` runs every test;
# `make test-short`, the fast tier, runs every package without browsers,
# proxies or long loads.
# Both install what they need when it is missing (Chromium, Firefox ESR and nats-server
# through apt-get, wasmbrowsertest through the Go module proxy).

GO        ?= go
ADDR      ?= 127.0.0.1:8844
GOBIN     := $(shell $(GO) env GOPATH)/bin
WASMBROWSERTEST := $(GOBIN)/wasmbrowsertest
WASMBROWSERTEST_VERSION := v0.11.0
CHROMIUM  := /usr/bin/chromium
FIREFOX   := /usr/bin/firefox-esr
# The JetStream and cluster tests run against Debian's nats-server (2.9, the
# oldest we support) as well as the one linked into the tests (2.15).
NATS_SERVER := /usr/sbin/nats-server
# make bench loads our HTTP/2 server, and Go's, with nghttp2's h2load.
H2LOAD    := /usr/bin/h2load
# The interop test's npm eventsource reader (Node 20) and its packages.
NODE_READER := e2e/node

.PHONY: all build wasm wasm-build dev server ssebench run test test-short check test-go deps deps-browser deps-proxies deps-nats deps-h2load screenshots bench soak clean

all: build

## build: the wasm app into web/, the server into bin/
build: wasm server ssebench

# app.wasm has a budget of 1.495 MB in brotli (e2e/wasmsize_test.go).
# -s -w: no symbol table nor DWARF; browsers never read them.
# GOEXPERIMENT=nogreenteagc: Go 1.26's new garbage collector costs app.wasm
# 45 KB (10 KB in brotli) and brings a single-threaded wasm program nothing;
# Go 1.26 keeps this opt-out, Go 1.27 is expected to drop it.
# precompress writes app.wasm.br and .gz, which the server sends to
# browsers that accept them (it skips the work when app.wasm is unchanged).
WASM_OUT ?= web/app.wasm
wasm: wasm-build
	$(GO) run ./server/cmd/precompress $(WASM_OUT)

# wasm-build: app.wasm alone, not precompressed (what make dev rebuilds).
wasm-build:
	GOOS=js GOARCH=wasm GOEXPERIMENT=nogreenteagc $(GO) build -trimpath -ldflags='-s -w' -o $(WASM_OUT) ./wasm

# SERVER_LDFLAGS: make dev sets -w (no DWARF), which links in a third less time.
SERVER_LDFLAGS ?=
server:
	$(GO) build -trimpath -ldflags='$(SERVER_LDFLAGS)' -o bin/server ./server

## ssebench: the SSE load tool, into bin/
ssebench:
	$(GO) build -trimpath -o bin/ssebench ./server/cmd/ssebench

## run: build, then serve on http://$(ADDR)/ (Ctrl-C stops it)
run: build
	./bin/server -addr $(ADDR)

## dev: build, serve on http://$(ADDR)/, and after every saved change to
## wasm/, shared/ or server/ rebuild what changed and reload open pages
dev:
	$(GO) run ./server/cmd/devserver -addr $(ADDR) -go $(GO) -make "$(MAKE) --no-print-directory GO=$(GO)"

## test: install what the tests need, check formatting and vet, run every test
test: deps check test-go

## test-short: the fast tier, for after every edit: formatting, vet and
## go test -short of every package; the browser, proxy and load tests skip
## (about a minute with a warm build cache; make test runs them all)
test-short: check
	$(GO) test -short ./...
	cd server/bench && $(GO) test -short ./...
	cd e2e/goclients && $(GO) test -short ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./wasm/... ./shared/...
	cd server/bench && $(GO) vet ./...
	cd e2e/goclients && $(GO) vet ./...

# Without -short, a test whose browser, proxy or server is missing fails.
# -p 1: one package at a time, so that the browser tests (several
# Chromiums, timing checks such as "no task over 200 ms") do not compete
# for the CPU with each other.
test-go:
	$(GO) test -race -p 1 -timeout 25m ./...
	cd server/bench && $(GO) test -race -count=1 ./...
	cd e2e/goclients && $(GO) test -race -count=1 ./...

deps: deps-browser deps-proxies deps-nats deps-h2load $(WASMBROWSERTEST) $(NODE_READER)/node_modules/.package-lock.json

# npm ci when node_modules is missing or older than the committed lock file
# (npm writes node_modules/.package-lock.json on every install).
$(NODE_READER)/node_modules/.package-lock.json: $(NODE_READER)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "the interop test needs Node.js 20 or later and npm: apt-get install -y nodejs npm, then make test again"; exit 1; }
	cd $(NODE_READER) && npm ci --no-audit --no-fund

deps-browser:
	@missing=; [ -x $(CHROMIUM) ] || missing="$$missing chromium"; [ -x $(FIREFOX) ] || missing="$$missing firefox-esr"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "missing:$$missing: installing with apt-get (needed for the browser tests)"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "cannot install$$missing: run 'apt-get install -y$$missing' as root, then 'make test' again"; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null && \
	test -x $(CHROMIUM) && test -x $(FIREFOX) || { echo "a browser did not install at $(CHROMIUM) or $(FIREFOX)"; exit 1; }

# The proxy tests (e2e/proxy_test.go) run nginx and HAProxy as ordinary
# processes; Debian starts their system services on install: stop them.
# curl speaks HTTP/2 to our server in its tests (server/h2, e2e).
deps-proxies:
	@missing=; for p in nginx haproxy; do [ -x /usr/sbin/$$p ] || missing="$$missing $$p"; done; \
	[ -x /usr/bin/curl ] || missing="$$missing curl"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "missing:$$missing: installing with apt-get (needed for the proxy tests)"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "cannot install$$missing: run 'apt-get install -y$$missing' as root, then 'make test' again"; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	for p in $$missing; do $$SUDO service $$p stop >/dev/null 2>&1 || true; \
	  [ -x /usr/sbin/$$p ] || [ -x /usr/bin/$$p ] || { echo "$$p did not install"; exit 1; }; done

# The tests run nats-server as an ordinary process on their own ports and
# directories (server/sse/jetstream/jstest); Debian starts a system service
# on install, which holds port 4222: stop it.
deps-nats:
	@[ -x $(NATS_SERVER) ] && exit 0; \
	echo "missing: nats-server: installing with apt-get (needed for the tests against a real NATS server)"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "cannot install nats-server: run 'apt-get install -y nats-server' as root, then 'make test' again"; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nats-server >/dev/null || { \
	  echo "apt-get could not install nats-server: install it (it must be on PATH as nats-server), then 'make test' again"; exit 1; }; \
	$$SUDO service nats-server stop >/dev/null 2>&1 || true; \
	[ -x $(NATS_SERVER) ] || { echo "nats-server did not install at $(NATS_SERVER)"; exit 1; }

# h2load (Debian's nghttp2-client): an HTTP/2 load generator that is not
# Go's, for the HTTP/2 rows of make bench.
deps-h2load:
	@[ -x $(H2LOAD) ] && exit 0; \
	echo "missing: h2load: installing nghttp2-client with apt-get (needed for make bench's HTTP/2 loads)"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "cannot install h2load: run 'apt-get install -y nghttp2-client' as root, then make again"; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nghttp2-client >/dev/null || { \
	  echo "apt-get could not install nghttp2-client: install it (it must put h2load at $(H2LOAD)), then make again"; exit 1; }; \
	[ -x $(H2LOAD) ] || { echo "h2load did not install at $(H2LOAD)"; exit 1; }

$(WASMBROWSERTEST):
	cd / && GOFLAGS=-mod=mod $(GO) install github.com/agnivade/wasmbrowsertest@$(WASMBROWSERTEST_VERSION)

## screenshots: refresh the README's screenshots from the browser tests
screenshots: deps
	$(GO) test ./e2e -count=1 -run 'TestClassicDemo/chromium' -screenshots $(CURDIR)/docs

## bench: our server against go-sse, r3labs/sse and launchdarkly/eventsource,
## and our HTTP/2 server against Go's (h2load, and the attack patterns);
## writes BENCHMARKS.md (BENCH_QUICK=1: a shorter check)
bench: deps-h2load
	GO=$(GO) ./server/bench/run.sh

## soak: a cluster of bin/server under churn, faults and thousands of clients for
## $(SOAK) (30m by default; SOAK=2m make soak for a short run); writes docs/soak.md
## and docs/soak.svg, and fails if any event was lost. Not part of make test.
SOAK ?= 30m
## extra flags for the soak, e.g. SOAK_FLAGS="-trace -keep" (./bin/soak -h)
SOAK_FLAGS ?=
soak: server
	$(GO) build -trimpath -o bin/soak ./server/cmd/soak
	./bin/soak -duration $(SOAK) $(SOAK_FLAGS) -server bin/server -md docs/soak.md -svg docs/soak.svg

clean:
	rm -rf bin web/app.wasm web/app.wasm.gz web/app.wasm.br web/app.wasm.sha256
