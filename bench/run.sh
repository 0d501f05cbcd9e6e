#!/usr/bin/env bash
# bench/run.sh compares ebtrace with bpftrace on start-up cost, memory,
# in-kernel cost per event, printf throughput and the cost of printing
# stacks, and prints one table with ebtrace/bpftrace ratios. See
# bench/README.md. Needs root and Go.
#
# Environment:
#   RUNS=N          start-up repetitions, median reported (default 10)
#   KRUNS=N         repetitions of the in-kernel, printf and stack runs (default 3)
#   EBTRACE=PATH    use this ebtrace binary instead of building ./cmd/ebtrace
#   BPFTRACE=PATH   use this bpftrace (default: the one on PATH, if any)
#   TIMEOUT=S       per-run time limit in seconds (default 60)
set -u -o pipefail

RUNS=${RUNS:-10}
KRUNS=${KRUNS:-3}
TIMEOUT=${TIMEOUT:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [[ $(id -u) != 0 ]]; then
	echo "run.sh: needs root to load BPF programs" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "run.sh: needs the go command on PATH" >&2
	exit 1
fi

TMP=$(mktemp -d /tmp/ebtrace-bench.XXXXXX)
# LOAD is the pid of a stackload running in the background, if any.
LOAD=
cleanup() {
	[[ -n $LOAD ]] && kill "$LOAD" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

note() { echo "run.sh: $*" >&2; }

(cd "$ROOT" && go build -o "$TMP/benchrun" ./bench/cmd/benchrun &&
	go build -o "$TMP/workload" ./internal/cmd/workload &&
	go build -o "$TMP/stackload" ./bench/cmd/stackload) || {
	note "building the helpers failed"
	exit 1
}
BENCHRUN=$TMP/benchrun
WORKLOAD=$TMP/workload
STACKLOAD=$TMP/stackload

declare -A BIN
TOOLS=()
if [[ -n ${EBTRACE:-} ]]; then
	BIN[ebtrace]=$EBTRACE
	TOOLS+=(ebtrace)
elif (cd "$ROOT" && go build -o "$TMP/ebtrace" ./cmd/ebtrace) >"$TMP/ebtrace-build.log" 2>&1; then
	BIN[ebtrace]=$TMP/ebtrace
	TOOLS+=(ebtrace)
else
	note "go build ./cmd/ebtrace failed; skipping ebtrace:"
	tail -n 5 "$TMP/ebtrace-build.log" | sed 's/^/    /' >&2
fi
BPFTRACE=${BPFTRACE:-$(command -v bpftrace || true)}
if [[ -n $BPFTRACE ]]; then
	BIN[bpftrace]=$BPFTRACE
	TOOLS+=(bpftrace)
else
	note "bpftrace not found; skipping it"
fi

# Programs of these types are counted for the in-kernel rows: whichever
# kind a tool attaches syscall tracepoints with, but not interval or
# BEGIN/END probes.
PROG_TYPES=tracepoint,rawtracepoint,tracing

# R[row|tool] holds a measured value; a missing entry prints as n/a.
declare -A R

# field KEY FILE prints KEY's value from a benchrun result line.
field() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"; }

# median reads numbers, one per line, and prints their median.
median() {
	sort -n | awk '{v[NR] = $1} END {
		if (NR == 0) exit 1
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# fail TOOL WHAT LOG reports a failed run with its exit status, when the
# tool got to exit, and the end of its stderr.
fail() {
	local status="no result"
	[[ -s $TMP/res ]] && status="exit $(field exit "$TMP/res")"
	note "$1: $2 failed ($status):"
	grep -v RLIMIT_MEMLOCK "$3" 2>/dev/null | tail -n 3 | sed 's/^/    /' >&2
}

# startup ROW TOOL PROG runs PROG RUNS times and records the median wall
# time (ms) and peak RSS (MiB).
startup() {
	local row=$1 tool=$2 prog=$3 i
	local walls=$TMP/walls rsss=$TMP/rsss
	: >"$walls"
	: >"$rsss"
	for ((i = 0; i < RUNS; i++)); do
		rm -f "$TMP/res"
		if ! timeout -k 5 "$TIMEOUT" "$BENCHRUN" -o "$TMP/res" -- "${BIN[$tool]}" -e "$prog" \
			>/dev/null 2>"$TMP/err" || [[ ! -s $TMP/res ]]; then
			fail "$tool" "$row run $((i + 1))" "$TMP/err"
			return
		fi
		field wall_ns "$TMP/res" >>"$walls"
		field maxrss_kb "$TMP/res" >>"$rsss"
	done
	R["$row wall ms|$tool"]=$(median <"$walls" | awk '{printf "%.1f", $1 / 1e6}')
	R["$row peak RSS MiB|$tool"]=$(median <"$rsss" | awk '{printf "%.1f", $1 / 1024}')
}

# kernel ROW TOOL PROG N runs PROG with "-c workload getppid N" KRUNS times
# and records the median in-kernel ns per event of its syscall programs.
kernel() {
	local row=$1 tool=$2 prog=$3 n=$4 i
	local per=$TMP/per
	: >"$per"
	for ((i = 0; i < KRUNS; i++)); do
		rm -f "$TMP/res"
		if ! timeout -k 5 "$TIMEOUT" "$BENCHRUN" -o "$TMP/res" -progs "$PROG_TYPES" -- \
			"${BIN[$tool]}" -e "$prog" -c "$WORKLOAD getppid $n" >/dev/null 2>"$TMP/err" ||
			[[ ! -s $TMP/res ]]; then
			fail "$tool" "$row run $((i + 1))" "$TMP/err"
			return
		fi
		if [[ $(field run_cnt "$TMP/res") == 0 ]]; then
			note "$tool: $row: no matching BPF program ran ($(cat "$TMP/res"))"
			return
		fi
		awk '{split($0, kv, /[ =]/); for (i = 1; i < length(kv); i += 2) f[kv[i]] = kv[i + 1]}
			END {printf "%.1f\n", f["run_time_ns"] / f["run_cnt"]}' "$TMP/res" >>"$per"
	done
	R["$row|$tool"]=$(median <"$per")
}

# printf_run TOOL N runs the printf program over N getppid calls KRUNS
# times and records the median of received lines, lost events, in-kernel
# ns per event and wall time.
printf_run() {
	local tool=$1 n=$2 i
	local prog='tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d\n", tid); }'
	: >"$TMP/p_lines"
	: >"$TMP/p_lost"
	: >"$TMP/p_ns"
	: >"$TMP/p_wall"
	for ((i = 0; i < KRUNS; i++)); do
		rm -f "$TMP/res"
		# Numeric lines are the printf output; anything else on stdout, and
		# all of stderr, is searched for "Lost N events".
		if ! timeout -k 5 "$TIMEOUT" "$BENCHRUN" -o "$TMP/res" -progs "$PROG_TYPES" -- \
			"${BIN[$tool]}" -e "$prog" -c "$WORKLOAD getppid $n" 2>"$TMP/err" |
			awk -v other="$TMP/other" '/^[0-9]+$/ {n++; next} {print >other} END {print n + 0}' \
				>"$TMP/count" || [[ ! -s $TMP/res ]]; then
			fail "$tool" "printf run $((i + 1))" "$TMP/err"
			return
		fi
		cat "$TMP/count" >>"$TMP/p_lines"
		cat "$TMP/other" "$TMP/err" 2>/dev/null |
			awk '{for (i = 1; i < NF; i++) if ($i == "Lost" && $(i + 1) ~ /^[0-9]+$/) s += $(i + 1)}
				END {print s + 0}' >>"$TMP/p_lost"
		rm -f "$TMP/other"
		awk '{split($0, kv, /[ =]/); for (i = 1; i < length(kv); i += 2) f[kv[i]] = kv[i + 1]}
			END {if (f["run_cnt"] > 0) printf "%.1f\n", f["run_time_ns"] / f["run_cnt"]}' \
			"$TMP/res" >>"$TMP/p_ns"
		field wall_ns "$TMP/res" >>"$TMP/p_wall"
	done
	R["printf lines received|$tool"]=$(median <"$TMP/p_lines")
	R["printf lost events|$tool"]=$(median <"$TMP/p_lost")
	R["printf ns/event|$tool"]=$(median <"$TMP/p_ns" || true)
	R["printf wall ms|$tool"]=$(median <"$TMP/p_wall" | awk '{printf "%.1f", $1 / 1e6}')
}

# stacks ROW NROW TOOL CACHE profiles a fresh stackload for 2 s KRUNS times
# and records in ROW the median time from the program's exit() to the
# tool's end (ms) and in NROW the median number of distinct stacks it
# printed. The exit probe prints nsecs, CLOCK_MONOTONIC, which benchrun's
# end_mono_ns is read on.
# CACHE=1 runs the tool with BPFTRACE_CACHE_USER_SYMBOLS=1; otherwise the
# variable is removed from its environment, leaving bpftrace's default.
stacks() {
	local row=$1 nrow=$2 tool=$3 cache=$4 i st prog exit_ns keys unres
	local envs=(-u BPFTRACE_CACHE_USER_SYMBOLS)
	[[ $cache == 1 ]] && envs=(BPFTRACE_CACHE_USER_SYMBOLS=1)
	: >"$TMP/s_ms"
	: >"$TMP/s_keys"
	for ((i = 0; i < KRUNS; i++)); do
		# The load outlives any run (twice TIMEOUT) and is killed after it:
		# its user stacks must resolve while the tool prints them.
		"$STACKLOAD" "$STACK_DEPTH" $((TIMEOUT * 2000)) &
		LOAD=$!
		prog="profile:hz:997 /pid == $LOAD/ { @[kstack, ustack, comm] = count(); }
			interval:s:2 { printf(\"exit_ns %llu\\n\", nsecs); exit(); }"
		rm -f "$TMP/res"
		st=0
		env "${envs[@]}" timeout -k 5 "$TIMEOUT" "$BENCHRUN" -o "$TMP/res" -- \
			"${BIN[$tool]}" -e "$prog" 2>"$TMP/err" |
			awk '/^exit_ns [0-9]+$/ {e = $2} /^@\[/ {n++} /^ +(0x[0-9a-f]+|\[unknown\])$/ {u++}
				END {print (e == "" ? "-" : e), n + 0, u + 0}' >"$TMP/count" || st=$?
		kill "$LOAD" 2>/dev/null
		wait "$LOAD" 2>/dev/null
		LOAD=
		if [[ $st != 0 || ! -s $TMP/res ]]; then
			fail "$tool" "$row run $((i + 1))" "$TMP/err"
			return
		fi
		read -r exit_ns keys unres <"$TMP/count"
		if [[ $exit_ns == - || $keys == 0 ]]; then
			note "$tool: $row run $((i + 1)): no exit_ns line or no stacks printed"
			return
		fi
		((unres > 0)) && note "$tool: $row run $((i + 1)): frames printed unresolved: $unres"
		awk -v e="$exit_ns" -v r="$(field end_mono_ns "$TMP/res")" \
			'BEGIN {printf "%.1f\n", (r - e) / 1e6}' >>"$TMP/s_ms"
		echo "$keys" >>"$TMP/s_keys"
	done
	R["$row|$tool"]=$(median <"$TMP/s_ms")
	R["$nrow|$tool"]=$(median <"$TMP/s_keys")
}

# stackload walks 2^STACK_DEPTH call paths: with the kernel stacks of their
# syscalls, about a thousand distinct stacks in 2 s of samples.
STACK_DEPTH=8

ONE='tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } interval:ms:1 { exit(); }'
TEN=''
for sc in openat read write close getppid getpid mmap munmap ioctl futex; do
	TEN+="tracepoint:syscalls:sys_enter_$sc { @${sc}[comm] = count(); } "
done
TEN+='interval:ms:1 { exit(); }'

for tool in "${TOOLS[@]}"; do
	note "measuring $tool"
	startup "1 probe" "$tool" "$ONE"
	startup "10 probes" "$tool" "$TEN"
	kernel "count() ns/event" "$tool" 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }' 2000000
	kernel "empty ns/event" "$tool" 'tracepoint:raw_syscalls:sys_enter { }' 2000000
	printf_run "$tool" 1000000
	kernel "kstack count() ns/event" "$tool" 'tracepoint:raw_syscalls:sys_enter { @[kstack] = count(); }' 2000000
	kernel "ustack count() ns/event" "$tool" 'tracepoint:raw_syscalls:sys_enter { @[ustack] = count(); }' 2000000
	stacks "stacks print ms" "stacks printed" "$tool" 0
	stacks "stacks cached print ms" "stacks cached printed" "$tool" 1
done

ROWS=(
	"1 probe wall ms"
	"1 probe peak RSS MiB"
	"10 probes wall ms"
	"10 probes peak RSS MiB"
	"count() ns/event"
	"empty ns/event"
	"printf lines received"
	"printf lost events"
	"printf ns/event"
	"printf wall ms"
	"kstack count() ns/event"
	"ustack count() ns/event"
	"stacks print ms"
	"stacks printed"
	"stacks cached print ms"
	"stacks cached printed"
)

printf '\n%-24s %12s %12s %16s\n' metric ebtrace bpftrace ebtrace/bpftrace
for row in "${ROWS[@]}"; do
	e=${R["$row|ebtrace"]:-n/a}
	b=${R["$row|bpftrace"]:-n/a}
	ratio=$(awk -v e="$e" -v b="$b" 'BEGIN {
		if (e == "n/a" || b == "n/a" || e == "" || b == "") print "n/a"
		else if (b + 0 == 0) print (e + 0 == 0 ? "1.00" : "-")
		else printf "%.2f", e / b
	}')
	printf '%-24s %12s %12s %16s\n' "$row" "$e" "$b" "$ratio"
done
