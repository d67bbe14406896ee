# asgdns build, test and lint. `make help` lists the targets.
#
# The workspace root is not a Go module, so `go test ./...` here would match
# nothing: every target loops over the modules in go.work instead.

FUNCTIONS := describe-instance assume-role send-command wait-for-command complete-lifecycle hold-instance reconcile list-zone drain-dead-letters
# The product (what deploys, what operators run) and the rig (what runs it
# all on one machine). The product's tests need only Go; the rig's need BIND,
# a JRE and the AWS CLI as real peers.
PRODUCT   := workflow functions shared-services statemachine cmd/asgdns
RIG       := local
MODULES   := $(PRODUCT) $(RIG)
ERRCHECK  := github.com/kisielk/errcheck@v1.30.0
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# SAM passes ARTIFACTS_DIR (absolute) to each build-<LogicalId> target.
ARTIFACTS_DIR ?= $(CURDIR)/build
LAMBDA_ENV   := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
# nethttpomithttp2 leaves net/http's bundled HTTP/2 out (about 0.5 MiB per
# binary): the AWS APIs asgdns calls and the Lambda Runtime API all speak
# HTTP/1.1, and it keeps every bootstrap under 10 MiB.
# -trimpath and -buildvcs=false make the bytes independent of where the
# source sits: `sam build` runs these targets in a scratch copy of CodeUri
# without .git (aws-lambda-builders' CustomMakeWorkflow copies the source
# with EXCLUDED_FILES = (".aws-sam", ".git")), where Go stamps no VCS
# information, while a build in the clone would stamp vcs.revision, vcs.time
# and vcs.modified. .ci/sam-build-check compares the two.
LAMBDA_FLAGS := -tags lambda.norpc,nethttpomithttp2 -trimpath -buildvcs=false -ldflags="-s -w"

# lambda builds one function's bootstrap into $(2).
define lambda
	cd functions/$(1) && $(LAMBDA_ENV) go build $(LAMBDA_FLAGS) -o $(2)/bootstrap .
endef

.PHONY: help build test test-fast cover lint bench fuzz sizes clean \
	build-DescribeInstanceFunction build-AssumeRoleFunction build-SendCommandFunction \
	build-WaitForCommandFunction build-CompleteLifecycleFunction build-HoldInstanceFunction \
	build-ReconcileFunction build-ListZoneFunction build-DrainDeadLettersFunction

help:
	@echo "make test    - every test (race detector), product and rig; installs BIND, a JRE and the AWS CLI when it can"
	@echo "make test-fast - the product's tests alone: Go is all they need"
	@echo "make lint    - gofmt, go vet, staticcheck, errcheck, go mod tidy diff"
	@echo "make build   - linux/arm64 bootstrap for every function into build/<function>/"
	@echo "make sizes   - build, then print each bootstrap's size (target <= 10 MiB)"
	@echo "make cover   - coverage per module"
	@echo "make bench   - benchmarks: handlers (allocations per invocation), the engine and the real state machine (executions/s)"
	@echo "make fuzz    - fuzz hostname/config derivation for FUZZTIME (default 30s)"
	@echo "make demo    - the whole workflow on this machine (the local stack), checked step by step"
	@echo "make local   - the local stack alone, for the AWS CLI and asgdns executions/replay"

# SAM makefile builds, one per function in template.yaml.
build-DescribeInstanceFunction:
	$(call lambda,describe-instance,$(ARTIFACTS_DIR))
build-AssumeRoleFunction:
	$(call lambda,assume-role,$(ARTIFACTS_DIR))
build-SendCommandFunction:
	$(call lambda,send-command,$(ARTIFACTS_DIR))
build-WaitForCommandFunction:
	$(call lambda,wait-for-command,$(ARTIFACTS_DIR))
build-CompleteLifecycleFunction:
	$(call lambda,complete-lifecycle,$(ARTIFACTS_DIR))
build-HoldInstanceFunction:
	$(call lambda,hold-instance,$(ARTIFACTS_DIR))
build-ReconcileFunction:
	$(call lambda,reconcile,$(ARTIFACTS_DIR))
build-ListZoneFunction:
	$(call lambda,list-zone,$(ARTIFACTS_DIR))
build-DrainDeadLettersFunction:
	$(call lambda,drain-dead-letters,$(ARTIFACTS_DIR))

build:
	@set -e; for f in $(FUNCTIONS); do echo "build $$f"; ($(call lambda,$$f,$(CURDIR)/build/$$f)); done

sizes: build
	@for f in $(FUNCTIONS); do \
		bytes=$$(stat -c %s build/$$f/bootstrap); \
		awk -v f=$$f -v b=$$bytes 'BEGIN { printf "%-20s %9d bytes  %5.2f MiB\n", f, b, b / 1048576 }'; \
		[ $$bytes -le 10485760 ] || { echo "$$f: bootstrap exceeds 10 MiB"; exit 1; }; \
	done

test: test-tools
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race -count=1 ./...); done

test-fast:
	@set -e; for m in $(PRODUCT); do echo "== $$m"; (cd $$m && go test -race -count=1 ./...); done

cover:
	@set -e; for m in $(MODULES); do (cd $$m && go test -count=1 -cover ./... | sed "s|^|$$m: |"); done

lint:
	@set -e; out=$$(gofmt -l $(MODULES)); [ -z "$$out" ] || { echo "gofmt would change:"; echo "$$out"; exit 1; }
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && go vet ./... && go mod tidy -diff && go run $(STATICCHECK) ./... \
		&& go run $(ERRCHECK) -exclude $(CURDIR)/.errcheck-excludes ./...); done

bench:
	@set -e; for m in $(MODULES); do (cd $$m && go test -run='^$$' -bench=. -benchmem ./... | grep -E '^Benchmark' | sed "s|^|$$m: |" || true); done

FUZZTIME ?= 30s
fuzz:
	cd workflow && go test -run='^$$' -fuzz=FuzzRecord -fuzztime=$(FUZZTIME) ./config

clean:
	rm -rf build .aws-sam

# The main job: the whole workflow on the local stack. Installs BIND (the
# demo's DNS server) when it can, or says how.
.PHONY: demo local
demo: dns-tools
	go run ./local/cmd/asgdns-local demo

# local: the stack alone, for the AWS CLI and asgdns executions/replay.
local: dns-tools
	go run ./local/cmd/asgdns-local serve

# Tools the tests and the demo run as real peers. need installs the Debian
# packages of the missing commands when it can (root with apt-get), or stops
# with the one command to run. $(call need,COMMAND:PACKAGE ...,WHAT)
define need
	@missing=""; for pair in $(1); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
		command -v $$cmd >/dev/null || [ -x /usr/sbin/$$cmd ] || case " $$missing " in *" $$pkg "*) ;; *) missing="$$missing $$pkg";; esac; \
	done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing ($(2))"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "$(2): missing$$missing; run: sudo apt-get install -y$$missing" >&2; exit 1; fi
endef

BIND_TOOLS := named:bind9 tsig-keygen:bind9 nsupdate:bind9-dnsutils dig:bind9-dnsutils

.PHONY: dns-tools test-tools
dns-tools:
	$(call need,$(BIND_TOOLS),the demo's DNS server)

test-tools:
	$(call need,$(BIND_TOOLS) java:default-jre-headless aws:awscli,the rig's tests)
