#!/usr/bin/env bash
# bench/record.sh measures `ebtrace record` against `trace-cmd record` on a
# high-rate event with a selective filter: the workload makes N close(2)
# calls of the invalid descriptors 1000000..1000099 in turn, both tools
# record syscalls:sys_enter_close system-wide with the ftrace filter
# 'fd == 1000000' (1% of the calls), and the table shows the workload's wall
# time untraced and under each tool, the slowdown, the events kept and the
# events lost. See bench/README.md. Needs root, Go and trace-cmd.
#
# Where trace-cmd cannot record (on a kernel without the function tracer
# under lockdown it fails to enable ftrace, or crashes), the script
# measures instead what trace-cmd drives: a tracefs instance with the same
# filter in the event's filter file, read from trace_pipe, labelled
# "ftrace".
#
# Environment:
#   N=CALLS        close(2) calls per run (default 1000000)
#   RUNS=R         runs per tool, median reported (default 5)
#   EBTRACE=PATH   use this ebtrace binary instead of building ./cmd/ebtrace
#   TRACECMD=PATH  use this trace-cmd (default: the one on PATH)
set -u -o pipefail

N=${N:-1000000}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVENT=syscalls:sys_enter_close
FILTER='fd == 1000000'

note() { echo "record.sh: $*" >&2; }

if [[ $(id -u) != 0 ]]; then
	note "needs root"
	exit 1
fi
TRACECMD=${TRACECMD:-$(command -v trace-cmd || true)}
if [[ -z $TRACECMD ]]; then
	note "trace-cmd not found (apt-get install trace-cmd); measuring ebtrace alone"
fi

TMP=$(mktemp -d /tmp/ebtrace-record-bench.XXXXXX)
TRACER=
cleanup() {
	[[ -n $TRACER ]] && kill -INT "$TRACER" 2>/dev/null && wait "$TRACER" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$TMP/benchrun" ./bench/cmd/benchrun &&
	go build -o "$TMP/workload" ./internal/cmd/workload) || {
	note "building the helpers failed"
	exit 1
}
EBTRACE=${EBTRACE:-}
if [[ -z $EBTRACE ]]; then
	(cd "$ROOT" && go build -o "$TMP/ebtrace" ./cmd/ebtrace) || exit 1
	EBTRACE=$TMP/ebtrace
fi

median() {
	sort -n | awk '{v[NR] = $1} END {
		if (NR == 0) exit 1
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# workload_ms runs the workload once and prints its wall time in ms.
workload_ms() {
	"$TMP/benchrun" -o "$TMP/res" -- "$TMP/workload" badclose "$N" || return 1
	tr ' ' '\n' <"$TMP/res" | sed -n 's/^wall_ns=//p' | awk '{printf "%.1f\n", $1 / 1e6}'
}

# wait_for FILE TEXT waits up to 10 s for TEXT to appear in FILE.
wait_for() {
	local i
	for ((i = 0; i < 1000; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	note "timed out waiting for '$2' in $1"
	return 1
}

# stop_tracer ends the background tracer with SIGINT, as Ctrl-C would.
stop_tracer() {
	kill -INT "$TRACER"
	wait "$TRACER"
	TRACER=
}

declare -A R

untraced_run() { workload_ms >>"$TMP/untraced.ms"; }

# ebtrace_run records one workload run and appends its wall time, kept and
# lost counts to the per-tool files.
ebtrace_run() {
	"$EBTRACE" record -e "$EVENT" --filter "$FILTER" -o "$TMP/ebtrace.txt" -f text 2>"$TMP/ebtrace.err" &
	TRACER=$!
	wait_for "$TMP/ebtrace.err" Recording || return 1
	workload_ms >>"$TMP/ebtrace.ms" || return 1
	stop_tracer
	grep -c 'sys_enter_close: __syscall_nr=3 fd=1000000$' "$TMP/ebtrace.txt" >>"$TMP/ebtrace.kept"
	awk '/lost [0-9]+ events/ {for (i = 1; i < NF; i++) if ($i == "lost") s += $(i + 1)} END {print s + 0}' \
		"$TMP/ebtrace.err" >>"$TMP/ebtrace.lost"
}

tracecmd_run() {
	(cd "$TMP" && exec "$TRACECMD" record -e "$EVENT" -f "$FILTER" -o "$TMP/trace.dat") >"$TMP/tracecmd.out" 2>&1 &
	TRACER=$!
	wait_for "$TMP/tracecmd.out" "Hit Ctrl^C" || return 1
	workload_ms >>"$TMP/tracecmd.ms" || return 1
	stop_tracer
	"$TRACECMD" report -i "$TMP/trace.dat" 2>/dev/null | grep -c 'sys_close(fd: f4240)\|fd: 0x000f4240' >>"$TMP/tracecmd.kept"
	# trace-cmd prints each CPU's ring statistics as it stops; overruns
	# are events the ring lost.
	awk '$1 == "overrun:" {s += $2} END {print s + 0}' "$TMP/tracecmd.out" >>"$TMP/tracecmd.lost"
}

# ftrace_run is tracecmd_run without trace-cmd: the kernel's own filter in
# a tracefs instance, its events read from trace_pipe while the workload runs.
ftrace_run() {
	local inst=/sys/kernel/tracing/instances/ebtrace-bench-$$
	local ev=$inst/events/${EVENT%%:*}/${EVENT#*:}
	mkdir "$inst" || return 1
	echo "$FILTER" >"$ev/filter" && echo 1 >"$ev/enable" || {
		rmdir "$inst"
		return 1
	}
	cat "$inst/trace_pipe" >"$TMP/ftrace.txt" &
	TRACER=$!
	workload_ms >>"$TMP/ftrace.ms"
	echo 0 >"$ev/enable"
	sleep 0.5 # trace_pipe hands out what is left
	kill "$TRACER"
	wait "$TRACER" 2>/dev/null
	TRACER=
	grep -c 'sys_close(fd: 0xf4240)' "$TMP/ftrace.txt" >>"$TMP/ftrace.kept"
	cat "$inst"/per_cpu/cpu*/stats | awk '$1 == "overrun:" {s += $2} END {print s + 0}' >>"$TMP/ftrace.lost"
	rmdir "$inst"
}

# tracecmd_works starts trace-cmd record once and reports whether it got
# to recording.
tracecmd_works() {
	(cd "$TMP" && exec "$TRACECMD" record -e "$EVENT" -f "$FILTER" -o "$TMP/probe.dat") >"$TMP/probe.out" 2>&1 &
	TRACER=$!
	if wait_for "$TMP/probe.out" "Hit Ctrl^C" 2>/dev/null; then
		stop_tracer
		return 0
	fi
	kill -INT "$TRACER" 2>/dev/null
	wait "$TRACER" 2>/dev/null
	TRACER=
	note "trace-cmd cannot record here ($(head -c 200 "$TMP/probe.out" | tr '\n' ' ')); measuring the kernel's ftrace filter through tracefs instead"
	return 1
}

TOOLS=(ebtrace)
if [[ -n $TRACECMD ]] && tracecmd_works; then
	TOOLS+=(tracecmd)
else
	TOOLS+=(ftrace)
fi
# The runs take turns, untraced and each tool in every round, so that a
# drift of the machine's speed (other load, frequency) falls on all alike.
for tool in untraced "${TOOLS[@]}"; do
	: >"$TMP/$tool.ms"
	: >"$TMP/$tool.kept"
	: >"$TMP/$tool.lost"
done
for ((i = 0; i < RUNS; i++)); do
	note "round $((i + 1)) of $RUNS"
	for tool in untraced "${TOOLS[@]}"; do
		"${tool}_run" || {
			note "$tool run $((i + 1)) failed"
			exit 1
		}
	done
done
R[untraced]=$(median <"$TMP/untraced.ms")
for tool in "${TOOLS[@]}"; do
	R[$tool ms]=$(median <"$TMP/$tool.ms")
	R[$tool kept]=$(median <"$TMP/$tool.kept")
	R[$tool lost]=$(median <"$TMP/$tool.lost")
done

printf '\n%d close(2) calls, %s recorded with filter %s (keeps %d)\n' "$N" "$EVENT" "'$FILTER'" $((N / 100))
printf '%-12s %12s %10s %10s %8s\n' tracer "wall ms" slowdown kept lost
printf '%-12s %12s %10s %10s %8s\n' untraced "${R[untraced]}" 1.00 - -
for tool in "${TOOLS[@]}"; do
	name=$tool
	[[ $tool == tracecmd ]] && name=trace-cmd
	ms=${R[$tool ms]:-n/a}
	slow=$(awk -v t="$ms" -v u="${R[untraced]}" 'BEGIN {if (t == "n/a" || u == 0) print "n/a"; else printf "%.2f", t / u}')
	printf '%-12s %12s %10s %10s %8s\n' "$name" "$ms" "$slow" "${R[$tool kept]:-n/a}" "${R[$tool lost]:-n/a}"
done
