#!/usr/bin/env bash
# The whole test suite. Run as root on Linux: the kernel tiers load and
# attach BPF programs (tests that need a missing kernel feature skip and say
# why). Besides Go and the modules in go.mod, the C and C++ workloads need
# gcc, g++ and sys/sdt.h: setup.sh installs them from Debian's packages when
# missing.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted"
	exit 1
fi
go vet ./...
# serve.go builds only without cgo (see there).
CGO_ENABLED=0 go vet ./cmd/ebtrace
# One package's tests at a time: the kernel runs every BPF program on a
# tracepoint for each event and drops the event for all of its perf
# events when any returns 0, so tests of two packages on the same
# tracepoint at once (a script's probe, a record filter, a perf counter)
# would hide each other's events.
go test -count=1 -p 1 ./...
# The kprobe and fentry suite, in VMs booting Debian's kernels: 6.1 attaches
# kprobe wildcards one link per function, the newest through multi-kprobe
# links. About a minute each once the kernels are cached.
# EBTRACE_SKIP_VM=1 skips them.
if [ "${EBTRACE_SKIP_VM:-}" != 1 ]; then
	vm/run.sh
	EBTRACE_VM_KERNEL=newest vm/run.sh
fi
