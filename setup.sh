#!/bin/sh
# setup.sh installs the Debian packages that ebtrace's tests need and this
# machine lacks: gcc for the C workloads, g++ for the C++ one (demangled
# names, cpp: probes), systemtap-sdt-dev for sys/sdt.h (the USDT
# workload), binutils for the objdump, readelf and nm that some tests
# compare with, clang and libbpf-dev (libbpf's bpf_helpers.h) for the BPF
# C programs of examples/2015 that `ebtrace run` loads (ebtrace itself
# never needs them), tmux for the test that drives `ebtrace shell` on a
# terminal, prometheus (the server and promtool) and chromium for the
# tests of `ebtrace serve`'s metrics and page, bpftool for bench/xlated.sh. It does nothing when all are present, and prints one line
# when it installs something. It also fetches bpftrace's tools (below).
set -eu

missing=""
command -v gcc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v objdump >/dev/null 2>&1 || missing="$missing binutils"
command -v clang >/dev/null 2>&1 || missing="$missing clang"
[ -e /usr/include/bpf/bpf_helpers.h ] || missing="$missing libbpf-dev"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v bpftool >/dev/null 2>&1 || [ -x /usr/sbin/bpftool ] || missing="$missing bpftool"
# Ask the preprocessor for sys/sdt.h: it knows the multiarch include
# directories. Without one, look where Debian puts the header.
if command -v cpp >/dev/null 2>&1; then
	printf '#include <sys/sdt.h>\n' | cpp -o /dev/null 2>/dev/null || missing="$missing systemtap-sdt-dev"
elif ! ls /usr/include/sys/sdt.h /usr/include/*/sys/sdt.h >/dev/null 2>&1; then
	missing="$missing systemtap-sdt-dev"
fi
# bpftrace's own tools, which TestBpftraceTools runs through --dry-run:
# where the bpftrace package is not installed, they are extracted from it
# (without bpftrace and its LLVM) to this directory.
tools=/var/cache/ebtrace/bpftrace-tools
need_tools=""
{ ls /usr/sbin/*.bt || ls "$tools"/*.bt; } >/dev/null 2>&1 || need_tools=1
[ -n "$missing$need_tools" ] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	[ -z "$missing" ] && exit 0 # only the tools: their test skips
	echo "setup.sh: the tests need these Debian packages or their equivalents:$missing" >&2
	exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
if [ -n "$missing" ]; then
	echo "setup.sh: installing$missing" >&2
	# shellcheck disable=SC2086 # one word per package
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -n "$need_tools" ]; then
	echo "setup.sh: extracting bpftrace's tools to $tools" >&2
	tmp=$(mktemp -d)
	if ! (cd "$tmp" && apt-get download -qq bpftrace >/dev/null 2>&1 && dpkg-deb -x bpftrace_*.deb x &&
		$sudo mkdir -p "$tools" && $sudo cp x/usr/sbin/*.bt "$tools"/); then
		echo "setup.sh: could not fetch Debian's bpftrace package; TestBpftraceTools will skip" >&2
	fi
	rm -rf "$tmp"
fi
