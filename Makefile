# raftkv build and test entry points. `make test` is the command the README
# and CI both run; keep them in step.
GO ?= go

.PHONY: all build test vet race unit

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

# test: everything CI checks, in the order a failure is cheapest to read.
test: vet
	$(GO) test -race -count=1 ./...
