#!/usr/bin/env bash
# bench/run.sh compares ebtrace with bpftrace on start-up cost, memory,
# the time from exit() to the end of the process, in-kernel cost per event,
# printf throughput, the cost of printing stacks and the start to exit of
# the syscall wildcard, and prints one table: per row and tool the median
# and the range (min, max) of the rounds, and the ratio of the medians.
# See bench/README.md. Needs root and Go.
#
# The measurements are taken in rounds: in each round every row is measured
# once per tool, the tools taking turns (ebtrace first in odd rounds,
# bpftrace first in even ones), so a drift of the machine's speed falls on
# both alike.
#
# Environment:
#   ROUNDS=N        rounds of every row but the wildcard's (default 9)
#   WROUNDS=N       rounds of the syscall wildcard rows (default 3)
#   ONLY=REGEX      measure only the row groups whose name matches (grep -E)
#   BEFORE=PATH     also measure this ebtrace binary (an earlier build) as a
#                   third tool, "before", taking its turn in every round, and
#                   print before/bpftrace and ebtrace/before tables too
#   EBTRACE=PATH    use this ebtrace binary instead of building ./cmd/ebtrace
#   BPFTRACE=PATH   use this bpftrace (default: the one on PATH, if any)
#   TIMEOUT=S       per-run time limit in seconds (default 60)
#   WTIMEOUT=S      per-run time limit of the wildcard rows (default 300)
set -u -o pipefail

ROUNDS=${ROUNDS:-9}
WROUNDS=${WROUNDS:-3}
ONLY=${ONLY:-}
TIMEOUT=${TIMEOUT:-60}
WTIMEOUT=${WTIMEOUT:-300}
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
elif (cd "$ROOT" && CGO_ENABLED=0 go build -o "$TMP/ebtrace" ./cmd/ebtrace) >"$TMP/ebtrace-build.log" 2>&1; then
	BIN[ebtrace]=$TMP/ebtrace
	TOOLS+=(ebtrace)
else
	note "CGO_ENABLED=0 go build ./cmd/ebtrace failed; skipping ebtrace:"
	tail -n 5 "$TMP/ebtrace-build.log" | sed 's/^/    /' >&2
fi
if [[ -n ${BEFORE:-} ]]; then
	BIN[before]=$BEFORE
	TOOLS+=(before)
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

# V[row|tool] holds the values measured so far, one per line; a row with
# none prints as n/a.
declare -A V

# add ROW TOOL VALUE records one measurement.
add() { V["$1|$2"]+="$3"$'\n'; }

# field KEY FILE prints KEY's value from a benchrun result line.
field() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"; }

# per_event FILE prints run_time_ns / run_cnt of a benchrun result line.
per_event() {
	awk '{split($0, kv, /[ =]/); for (i = 1; i < length(kv); i += 2) f[kv[i]] = kv[i + 1]}
		END {if (f["run_cnt"] > 0) printf "%.1f\n", f["run_time_ns"] / f["run_cnt"]}' "$1"
}

# exit_ms OUT RES prints the time in ms from the exit_ns line the program
# printed to OUT to the end of the tool in the benchrun result RES, or
# nothing without such a line. nsecs and end_mono_ns are both
# CLOCK_MONOTONIC.
exit_ms() {
	local e
	e=$(sed -n 's/^exit_ns \([0-9][0-9]*\)$/\1/p' "$1" | tail -n 1)
	[[ -n $e ]] || return 0
	awk -v e="$e" -v r="$(field end_mono_ns "$2")" 'BEGIN {printf "%.1f\n", (r - e) / 1e6}'
}

# fail TOOL WHAT LOG reports a failed run with its exit status, when the
# tool got to exit, and the end of its stderr.
fail() {
	local status="no result"
	[[ -s $TMP/res ]] && status="exit $(field exit "$TMP/res")"
	note "$1: $2 failed ($status):"
	grep -v RLIMIT_MEMLOCK "$3" 2>/dev/null | tail -n 3 | sed 's/^/    /' >&2
}

# startup ROW TOOL PROG LIMIT runs PROG once and records its wall time
# (ms), peak RSS (MiB) and the time from its exit() to its end (ms). PROG
# prints exit_ns before it calls exit().
startup() {
	local row=$1 tool=$2 prog=$3 limit=$4 ms
	rm -f "$TMP/res"
	if ! timeout -k 5 "$limit" "$BENCHRUN" -o "$TMP/res" -- "${BIN[$tool]}" -e "$prog" \
		>"$TMP/out" 2>"$TMP/err" || [[ ! -s $TMP/res ]]; then
		fail "$tool" "$row" "$TMP/err"
		return
	fi
	add "$row wall ms" "$tool" "$(field wall_ns "$TMP/res" | awk '{printf "%.1f", $1 / 1e6}')"
	add "$row peak RSS MiB" "$tool" "$(field maxrss_kb "$TMP/res" | awk '{printf "%.1f", $1 / 1024}')"
	ms=$(exit_ms "$TMP/out" "$TMP/res")
	if [[ -z $ms ]]; then
		note "$tool: $row: no exit_ns line on stdout"
		return
	fi
	add "$row exit ms" "$tool" "$ms"
}

# kernel ROW TOOL PROG N runs PROG with "-c workload getppid N" once and
# records the in-kernel ns per event of its syscall programs.
kernel() {
	local row=$1 tool=$2 prog=$3 n=$4
	rm -f "$TMP/res"
	if ! timeout -k 5 "$TIMEOUT" "$BENCHRUN" -o "$TMP/res" -progs "$PROG_TYPES" -- \
		"${BIN[$tool]}" -e "$prog" -c "$WORKLOAD getppid $n" >/dev/null 2>"$TMP/err" ||
		[[ ! -s $TMP/res ]]; then
		fail "$tool" "$row" "$TMP/err"
		return
	fi
	if [[ $(field run_cnt "$TMP/res") == 0 ]]; then
		note "$tool: $row: no matching BPF program ran ($(cat "$TMP/res"))"
		return
	fi
	add "$row" "$tool" "$(per_event "$TMP/res")"
}

# printf_run TOOL N runs the printf program over N getppid calls once and
# records the received lines, lost events, in-kernel ns per event and
# wall time.
printf_run() {
	local tool=$1 n=$2 ns
	local prog='tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d\n", tid); }'
	rm -f "$TMP/res" "$TMP/other"
	# Numeric lines are the printf output; anything else on stdout, and
	# all of stderr, is searched for "Lost N events".
	if ! timeout -k 5 "$TIMEOUT" "$BENCHRUN" -o "$TMP/res" -progs "$PROG_TYPES" -- \
		"${BIN[$tool]}" -e "$prog" -c "$WORKLOAD getppid $n" 2>"$TMP/err" |
		awk -v other="$TMP/other" '/^[0-9]+$/ {n++; next} {print >other} END {print n + 0}' \
			>"$TMP/count" || [[ ! -s $TMP/res ]]; then
		fail "$tool" "printf" "$TMP/err"
		return
	fi
	add "printf lines received" "$tool" "$(cat "$TMP/count")"
	add "printf lost events" "$tool" "$(cat "$TMP/other" "$TMP/err" 2>/dev/null |
		awk '{for (i = 1; i < NF; i++) if ($i == "Lost" && $(i + 1) ~ /^[0-9]+$/) s += $(i + 1)}
			END {print s + 0}')"
	ns=$(per_event "$TMP/res")
	[[ -n $ns ]] && add "printf ns/event" "$tool" "$ns"
	add "printf wall ms" "$tool" "$(field wall_ns "$TMP/res" | awk '{printf "%.1f", $1 / 1e6}')"
}

# stacks ROW NROW TOOL CACHE profiles a fresh stackload for 2 s once and
# records in ROW the time from the program's exit() to the tool's end (ms)
# and in NROW the number of distinct stacks it printed.
# CACHE=1 runs bpftrace with BPFTRACE_CACHE_USER_SYMBOLS=1, bpftrace 0.17's
# switch for its user symbol cache; otherwise, and always for ebtrace (which
# takes the values of current bpftrace, and caches anyway), the variable is
# removed from the tool's environment, leaving its default.
stacks() {
	local row=$1 nrow=$2 tool=$3 cache=$4 st prog exit_ns keys unres
	local envs=(-u BPFTRACE_CACHE_USER_SYMBOLS)
	[[ $cache == 1 && $tool == bpftrace ]] && envs=(BPFTRACE_CACHE_USER_SYMBOLS=1)
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
		fail "$tool" "$row" "$TMP/err"
		return
	fi
	read -r exit_ns keys unres <"$TMP/count"
	if [[ $exit_ns == - || $keys == 0 ]]; then
		note "$tool: $row: no exit_ns line or no stacks printed"
		return
	fi
	((unres > 0)) && note "$tool: $row: frames printed unresolved: $unres"
	add "$row" "$tool" "$(awk -v e="$exit_ns" -v r="$(field end_mono_ns "$TMP/res")" \
		'BEGIN {printf "%.1f\n", (r - e) / 1e6}')"
	add "$nrow" "$tool" "$keys"
}

# stackload walks 2^STACK_DEPTH call paths: with the kernel stacks of their
# syscalls, about a thousand distinct stacks in 2 s of samples.
STACK_DEPTH=8

# EXIT is the interval probe that ends the start-up scripts; it prints
# CLOCK_MONOTONIC as it calls exit(), for the "exit ms" rows.
EXIT='{ printf("exit_ns %llu\n", nsecs); exit(); }'
ONE="tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } interval:ms:1 $EXIT"
TEN=''
for sc in openat read write close getppid getpid mmap munmap ioctl futex; do
	TEN+="tracepoint:syscalls:sys_enter_$sc { @${sc}[comm] = count(); } "
done
TEN+="interval:ms:1 $EXIT"
WILD="tracepoint:syscalls:sys_enter_* { @[probe] = count(); } interval:ms:100 $EXIT"

# measure GROUP TOOL takes one measurement of each row of GROUP with TOOL.
measure() {
	case $1 in
	"1 probe") startup "1 probe" "$2" "$ONE" "$TIMEOUT" ;;
	"10 probes") startup "10 probes" "$2" "$TEN" "$TIMEOUT" ;;
	count) kernel "count() ns/event" "$2" 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }' 2000000 ;;
	empty) kernel "empty ns/event" "$2" 'tracepoint:raw_syscalls:sys_enter { }' 2000000 ;;
	printf) printf_run "$2" 1000000 ;;
	kstack) kernel "kstack count() ns/event" "$2" 'tracepoint:raw_syscalls:sys_enter { @[kstack] = count(); }' 2000000 ;;
	ustack) kernel "ustack count() ns/event" "$2" 'tracepoint:raw_syscalls:sys_enter { @[ustack] = count(); }' 2000000 ;;
	stacks) stacks "stacks print ms" "stacks printed" "$2" 0 ;;
	"stacks cached") stacks "stacks cached print ms" "stacks cached printed" "$2" 1 ;;
	"syscalls wildcard") startup "syscalls wildcard" "$2" "$WILD" "$WTIMEOUT" ;;
	esac
}

GROUPS_ROUND=("1 probe" "10 probes" count empty printf kstack ustack stacks "stacks cached")
selected() { [[ -z $ONLY ]] || grep -Eq -- "$ONLY" <<<"$1"; }

# rounds N GROUP... runs N rounds of the selected GROUPs, the tools taking
# turns in each, in reverse order every other round.
rounds() {
	local n=$1 r g tool order
	shift
	for ((r = 0; r < n; r++)); do
		order=("${TOOLS[@]}")
		((r % 2)) && mapfile -t order < <(printf '%s\n' "${TOOLS[@]}" | tac)
		note "round $((r + 1))/$n: ${*}"
		for g in "$@"; do
			for tool in "${order[@]}"; do
				measure "$g" "$tool"
			done
		done
	done
}

sel=()
for g in "${GROUPS_ROUND[@]}"; do
	selected "$g" && sel+=("$g")
done
((${#sel[@]})) && rounds "$ROUNDS" "${sel[@]}"
selected "syscalls wildcard" && rounds "$WROUNDS" "syscalls wildcard"

ROWS=(
	"1 probe wall ms"
	"1 probe peak RSS MiB"
	"1 probe exit ms"
	"10 probes wall ms"
	"10 probes peak RSS MiB"
	"10 probes exit ms"
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
	"syscalls wildcard wall ms"
	"syscalls wildcard peak RSS MiB"
	"syscalls wildcard exit ms"
)

# summary prints "median min max count" of the numbers on stdin, one per
# line, or "n/a n/a n/a 0" without any. Counts print as whole numbers,
# anything else (fractions measured or a median between two) with one digit.
summary() {
	grep . | sort -n | awk 'function f(x) {return frac || x != int(x) ? sprintf("%.1f", x) : sprintf("%d", x)}
		{v[NR] = $1; if ($1 ~ /\./) frac = 1}
		END {
			if (NR == 0) {print "n/a n/a n/a 0"; exit}
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print f(m), f(v[1]), f(v[NR]), NR
		}'
}

# table A B prints every row measured with A or B: the median, min and
# max of each and the ratio of the medians, A/B. The metric is everything
# before the last eight fields, so the table splits on white space.
FMT='%-30s %10s %10s %10s %10s %10s %10s %16s %5s\n'
table() {
	local a=$1 b=$2 row e emin emax en x xmin xmax xn ratio
	echo
	# shellcheck disable=SC2059 # FMT is the table's format
	printf "$FMT" metric "$a" "${a:0:1}_min" "${a:0:1}_max" "$b" "${b:0:1}_min" "${b:0:1}_max" "$a/$b" n
	for row in "${ROWS[@]}"; do
		[[ -n ${V["$row|$a"]:-}${V["$row|$b"]:-} ]] || continue
		read -r e emin emax en < <(printf '%s' "${V["$row|$a"]:-}" | summary)
		read -r x xmin xmax xn < <(printf '%s' "${V["$row|$b"]:-}" | summary)
		ratio=$(awk -v e="$e" -v b="$x" 'BEGIN {
			if (e == "n/a" || b == "n/a") print "n/a"
			else if (b + 0 == 0) print (e + 0 == 0 ? "1.00" : "-")
			else printf "%.2f", e / b
		}')
		# shellcheck disable=SC2059
		printf "$FMT" "$row" "$e" "$emin" "$emax" "$x" "$xmin" "$xmax" "$ratio" "$en/$xn"
	done
}

table ebtrace bpftrace
if [[ -n ${BIN[before]:-} ]]; then
	table before bpftrace
	table ebtrace before
fi
