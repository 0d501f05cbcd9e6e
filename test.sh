#!/usr/bin/env bash
# The whole test suite. Run as root on Linux: the kernel tiers load and
# attach BPF programs (tests that need a missing kernel feature skip and say
# why). Everything it needs is Go and the Go modules in go.mod.
set -euo pipefail
cd "$(dirname "$0")"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted"
	exit 1
fi
go vet ./...
go test -count=1 ./...
