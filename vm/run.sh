#!/usr/bin/env bash
# vm/run.sh: the slow suite. It boots Debian's stock kernel under QEMU with
# an initramfs holding busybox, ebtrace and its test binaries, and runs the
# tests of kprobe, kretprobe, fentry and fexit there, where the kernel lets
# them attach (the development machines' kernel does not), and bpftrace's
# own tools. See README.md beside this file.
#
# Run as root on an amd64 Debian machine: it installs what it lacks with
# apt-get. The console streams to stdout and to a log file; the exit status
# is the one the VM reports on its EBTRACE-VM-RESULT line (1 when that line
# is missing: the VM crashed or timed out).
#
# Environment, all optional:
#   EBTRACE_VM_KERNEL   Debian package of the kernel to boot, such as
#                       linux-image-6.12.115+deb12-cloud-amd64-unsigned;
#                       "newest" for the newest cloud kernel apt-cache
#                       lists; default: the one linux-image-cloud-amd64
#                       depends on
#   EBTRACE_VM_CACHE    where kernels are kept between runs;
#                       default: ${XDG_CACHE_HOME:-$HOME/.cache}/ebtrace-vm
#   EBTRACE_VM_LOG      the console log; default: $EBTRACE_VM_CACHE/console.log
#   EBTRACE_VM_TIMEOUT  seconds before the VM is killed; default: 1200
#   EBTRACE_VM_RUN      -test.run filter for ./cmd/ebtrace's tests;
#                       default: the kprobe and fentry end-to-end tests
#                       (ebtrace run's too) and the CO-RE ones, which
#                       read kernel structs
#   EBTRACE_VM_MEM      guest memory in MiB; default: 1024
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${EBTRACE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ebtrace-vm}
log=${EBTRACE_VM_LOG:-$cache/console.log}
vm_timeout=${EBTRACE_VM_TIMEOUT:-1200}
e2e_run=${EBTRACE_VM_RUN:-'^Test(Kprobe|Fentry|CurtaskParent|CORERelocations|Run(Kprobes|Fentry|Object)$)'}
mem=${EBTRACE_VM_MEM:-1024}

say() { printf 'vm/run.sh: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

[ "$(uname -m)" = x86_64 ] || die "only amd64 hosts are supported (this is $(uname -m)): the guest is Debian's amd64 kernel"
[ "$(id -u)" -eq 0 ] || die "run as root: it installs Debian packages with apt-get"
command -v go >/dev/null 2>&1 || die "go is not on PATH"

export DEBIAN_FRONTEND=noninteractive
apt_updated=""
apt_update() {
	if [ -z "$apt_updated" ]; then
		apt-get update -qq >/dev/null
		apt_updated=1
	fi
}

# Host tools, each with the Debian package that brings it.
missing=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
[ "$(dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null)" = installed ] || missing="$missing busybox-static"
command -v cpio >/dev/null 2>&1 || missing="$missing cpio"
command -v gzip >/dev/null 2>&1 || missing="$missing gzip"
command -v timeout >/dev/null 2>&1 || missing="$missing coreutils"
if [ -n "$missing" ]; then
	say "installing$missing"
	apt_update
	# shellcheck disable=SC2086 # one word per package
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
busybox=$(dpkg-query -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
[ -x "$busybox" ] || die "busybox-static is installed but its busybox binary is not found"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The kernel: a Debian linux-image package, unpacked once into the cache.
# The default is the kernel that Debian's cloud meta-package points at: the
# distribution's current kernel, with few drivers, so it boots quickly.
cached() { ls "$cache/$1"/boot/vmlinuz-* >/dev/null 2>&1; }
# EBTRACE_VM_KERNEL=newest picks the newest cloud kernel the package lists
# name (6.12 on bookworm, with multi-kprobe links, which 6.1 lacks).
resolve() {
	if [ "${EBTRACE_VM_KERNEL:-}" = newest ]; then
		apt-cache search --names-only '^linux-image-[0-9].*-cloud-amd64$' 2>/dev/null | awk '{ print $1 }' | sort -V | tail -n 1
		return
	fi
	apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
pkg=${EBTRACE_VM_KERNEL:-}
[ "$pkg" != newest ] || pkg=
if [ -z "$pkg" ]; then
	pkg=$(resolve)
	if [ -z "$pkg" ] || ! cached "$pkg"; then
		# Stale package lists may name a kernel the mirror no longer has.
		apt_update
		pkg=$(resolve)
	fi
	[ -n "$pkg" ] || die "apt-cache names no kernel for linux-image-cloud-amd64; set EBTRACE_VM_KERNEL"
fi
kdir=$cache/$pkg
if ! cached "$pkg"; then
	say "downloading $pkg"
	dl=$work/download
	mkdir -p "$dl"
	# apt's download sandbox user cannot write to a root-owned directory.
	if ! (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$pkg"); then
		apt_update
		(cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
	fi
	dpkg-deb -x "$dl"/*.deb "$dl/root"
	# Everything the guest needs is built in (checked below): keep /boot
	# only, not the ~90 MB of modules.
	rm -rf "$kdir"
	mkdir -p "$kdir"
	cp -r "$dl/root/boot" "$kdir/boot.tmp"
	mv "$kdir/boot.tmp" "$kdir/boot"
	rm -rf "$dl"
fi
files=("$kdir"/boot/vmlinuz-*)
vmlinuz=${files[0]}
files=("$kdir"/boot/config-*)
config=${files[0]}

# What the tests need of the kernel, and what booting from an initramfs on
# a serial console needs, all built in (=y): no modules are loaded. The
# bpftrace tool runs need a disk (NVMe), loopback TCP and memory cgroups.
for opt in BPF_SYSCALL BPF_JIT BPF_EVENTS DEBUG_INFO_BTF KPROBES KPROBE_EVENTS \
	FUNCTION_TRACER DYNAMIC_FTRACE_WITH_DIRECT_CALLS FTRACE_SYSCALLS DEBUG_FS \
	BLK_DEV_INITRD RD_GZIP DEVTMPFS TMPFS SERIAL_8250 SERIAL_8250_CONSOLE BINFMT_ELF \
	BLK_DEV_NVME INET MEMCG; do
	grep -qx "CONFIG_$opt=y" "$config" || die "$pkg: CONFIG_$opt is not built in; choose another kernel with EBTRACE_VM_KERNEL"
done
# Debian locks the kernel down only under UEFI Secure Boot, and QEMU boots
# it without UEFI; a kernel forced into lockdown would refuse kprobes.
if grep -Eqx 'CONFIG_LOCK_DOWN_KERNEL_FORCE_(INTEGRITY|CONFIDENTIALITY)=y' "$config"; then
	die "$pkg forces kernel lockdown; choose another kernel with EBTRACE_VM_KERNEL"
fi

# Static binaries: ebtrace, the workload, and the test binaries. Each test
# binary runs in a copy of its package directory (with its testdata), as
# go test would run it.
say "building"
bin=$work/root/ebtrace/bin
mkdir -p "$bin"
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
(
	cd "$repo"
	go build -o "$bin/ebtrace" ./cmd/ebtrace
	go build -o "$bin/workload" ./internal/cmd/workload
	# The BPF C objects that ebtrace run's tests load: the guest has no
	# clang (testutil.BuildBPF takes them from $EBTRACE_TEST_BINDIR/bpf).
	# Those that name the workload's path are given the guest's.
	if command -v clang >/dev/null 2>&1 && [ -e /usr/include/bpf/bpf_helpers.h ]; then
		mkdir -p "$bin/bpf"
		for c in cmd/ebtrace/testdata/run/*.bpf.c; do
			clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -DWORKLOAD='"/ebtrace/bin/workload"' -DTICKER='"/ebtrace/bin/ticker"' \
				-c "$c" -o "$bin/bpf/$(basename "${c%.c}").o"
		done
	fi
	cp go.mod "$work/root/ebtrace/"
	for p in internal/probe/kprobe:kprobe.test internal/probe/fentry:fentry.test cmd/ebtrace:ebtrace.test; do
		dir=${p%%:*}
		mkdir -p "$work/root/ebtrace/$dir"
		if [ -d "$dir/testdata" ]; then
			cp -r "$dir/testdata" "$work/root/ebtrace/$dir/"
		fi
		go test -c -o "$work/root/ebtrace/$dir/${p#*:}" "./$dir"
	done
)

# bpftrace's tools (Debian's bpftrace package ships them in /usr/sbin;
# setup.sh extracts them to /var/cache/ebtrace/bpftrace-tools), for
# TestBpftraceTools and the tool runs in /init, with the system headers
# they #include and the headers those include: the guest has no
# /usr/include. The scan follows every #include <...> line whatever #if
# guards it, so it copies a few more headers than ebtrace reads (about 80
# files, 220 KB).
cached_tools=/var/cache/ebtrace/bpftrace-tools
tools=""
for dir in /usr/sbin "$cached_tools"; do
	if ls "$dir"/*.bt >/dev/null 2>&1; then
		tools=$dir
		break
	fi
done
if [ -n "$tools" ]; then
	mkdir -p "$work/root$cached_tools"
	cp "$tools"/*.bt "$work/root$cached_tools/"
	includes() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$@"; }
	queue=$(includes "$tools"/*.bt)
	seen=" "
	while [ -n "$queue" ]; do
		next=""
		for h in $queue; do
			case "$seen" in *" $h "*) continue ;; esac
			seen="$seen$h "
			# check.HeaderDirs, less the other architecture's.
			for d in /usr/include /usr/local/include /usr/include/x86_64-linux-gnu; do
				if [ -f "$d/$h" ]; then
					mkdir -p "$work/root$(dirname "$d/$h")"
					cp "$d/$h" "$work/root$d/$h"
					next="$next $(includes "$d/$h")"
				fi
			done
		done
		queue=$next
	done
	say "copied $(find "$work/root$cached_tools" -name '*.bt' | wc -l) bpftrace tools from $tools and $(find "$work/root/usr" -type f 2>/dev/null | wc -l) headers they include"
else
	say "no bpftrace tools in /usr/sbin or $cached_tools (setup.sh extracts them): the corpus is skipped in the VM"
fi

# A scratch disk for the block I/O tools. Debian's cloud kernels build
# virtio-blk as a module, which the guest does not load, but NVMe in.
truncate -s 16M "$work/scratch.img"

# The initramfs: busybox, the binaries, and /init.
mkdir -p "$work/root/bin"
cp "$busybox" "$work/root/bin/busybox"
ln -s busybox "$work/root/bin/sh"
cat >"$work/root/ebtrace/config" <<EOF
e2e_run='$(printf '%s' "$e2e_run" | sed "s/'/'\\\\''/g")'
EOF
cp "$repo/vm/init" "$work/root/init"
chmod 755 "$work/root/init"
(cd "$work/root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$work/initramfs.gz"

accel=(-accel tcg -cpu max)
how="TCG (no usable /dev/kvm: this is slow)"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	accel=(-enable-kvm -cpu host)
	how=KVM
fi
mkdir -p "$(dirname "$log")"

# boot runs the VM once, its console to stdout and $log; it sets
# qemu_status and elapsed.
boot() {
	say "booting $(basename "$vmlinuz") with $how; console log: $log"
	start=$SECONDS
	set +e
	timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
		"${accel[@]}" -smp 2 -m "$mem" \
		-nographic -no-reboot \
		-drive "file=$work/scratch.img,if=none,id=scratch,format=raw" \
		-device nvme,serial=ebtrace-scratch,drive=scratch \
		-kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet" </dev/null 2>&1 |
		sed -u 's/\r$//; s/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' | tee "$log"
	qemu_status=${PIPESTATUS[0]}
	set -e
	elapsed=$((SECONDS - start))
}

boot
# Under TCG a vCPU may still run a stale translation of kernel text that
# another vCPU just patched (an ftrace or kprobe site), and trap on an
# int3 the kernel no longer expects: a guest Oops the emulator causes,
# seen about once in six runs of 6.12 here (a machine without KVM, where
# it is not retried). One more boot tells it from a real failure, which
# happens again.
if ! grep -q '^EBTRACE-VM-RESULT: ' "$log" && grep -q 'Oops: int3' "$log" && [ "$how" != KVM ]; then
	cp "$log" "$log.int3"
	say "the guest trapped on an int3 of its own text patching under TCG (see $log.int3); booting once more"
	boot
fi

status=$(sed -n 's/^EBTRACE-VM-RESULT: \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
if [ -z "$status" ]; then
	if [ "$qemu_status" -eq 124 ]; then
		say "no EBTRACE-VM-RESULT line: the VM timed out after ${vm_timeout}s"
	else
		say "no EBTRACE-VM-RESULT line: the VM stopped early (qemu exit status $qemu_status)"
	fi
	exit 1
fi
say "VM finished in ${elapsed}s with status $status"
exit "$status"
