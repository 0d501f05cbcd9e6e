#!/usr/bin/env bash
# bench/xlated.sh compares the size of the BPF code ebtrace and bpftrace
# load for ten one-liners of bpftrace's tutorial and README: it runs each
# one-liner under each tool, finds the programs the tool holds (the
# prog_id of its file descriptors in /proc/PID/fdinfo), reads their sizes
# with bpftool and prints one table: instructions after the verifier's
# rewrites (xlated bytes / 8) and JITed bytes, summed over the tool's
# programs, and the ratio of the instruction counts. See bench/README.md.
# Needs root and bpftool (Debian's bpftool package).
#
# Environment:
#   EBTRACE=PATH   use this ebtrace binary instead of building ./cmd/ebtrace
#   BPFTRACE=PATH  use this bpftrace (default: the one on PATH, if any)
#   BPFTOOL=PATH   use this bpftool (default: the one on PATH)
#   DUMP=DIR       also write each tool's `bpftool prog dump xlated` of
#                  each one-liner to DIR/N.TOOL.txt
#   TIMEOUT=S      seconds to wait for a tool's programs (default 30)
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TIMEOUT=${TIMEOUT:-30}
DUMP=${DUMP:-}

note() { echo "xlated.sh: $*" >&2; }

if [[ $(id -u) != 0 ]]; then
	note "needs root to load BPF programs"
	exit 1
fi
BPFTOOL=${BPFTOOL:-$(command -v bpftool || true)}
if [[ -z $BPFTOOL ]]; then
	note "bpftool not found (apt-get install bpftool)"
	exit 1
fi
[[ -n $DUMP ]] && mkdir -p "$DUMP"

TMP=$(mktemp -d /tmp/ebtrace-xlated.XXXXXX)
TRACER=
cleanup() {
	[[ -n $TRACER ]] && kill -KILL "$TRACER" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

declare -A BIN
TOOLS=()
if [[ -n ${EBTRACE:-} ]]; then
	BIN[ebtrace]=$EBTRACE
	TOOLS+=(ebtrace)
elif (cd "$ROOT" && go build -o "$TMP/ebtrace" ./cmd/ebtrace); then
	BIN[ebtrace]=$TMP/ebtrace
	TOOLS+=(ebtrace)
else
	note "go build ./cmd/ebtrace failed; skipping ebtrace"
fi
BPFTRACE=${BPFTRACE:-$(command -v bpftrace || true)}
if [[ -n $BPFTRACE ]]; then
	BIN[bpftrace]=$BPFTRACE
	TOOLS+=(bpftrace)
else
	note "bpftrace not found; skipping it"
fi

# NAMES and LINERS: the tutorial's lessons 3, 4, 5, 8 and 10 and the
# README's one-liners, restricted to the probe types this kernel allows
# (no kprobes), with pid 1 for the example pids and lesson 8's interval
# lengthened from 5 to 30 s, so that its programs are still loaded when
# the tool with the slower start-up has loaded the last one.
NAMES=(openat-printf comm-count read-sum read-hist-comm rate-interval
	block-printf ustack-pid sched-probe switch-kstack read-hist-pid)
LINERS=(
	'tracepoint:syscalls:sys_enter_openat { printf("%s %s\n", comm, str(args->filename)); }'
	'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
	'tracepoint:syscalls:sys_exit_read /args->ret/ { @[comm] = sum(args->ret); }'
	'tracepoint:syscalls:sys_exit_read { @[comm] = hist(args->ret); }'
	'tracepoint:raw_syscalls:sys_enter { @ = count(); } interval:s:1 { print(@); clear(@); }'
	'tracepoint:block:block_rq_issue { printf("%d %s %d\n", pid, comm, args->bytes); }'
	'profile:hz:99 /pid == 1/ { @[ustack] = count(); }'
	'tracepoint:sched:sched* { @[probe] = count(); } interval:s:30 { exit(); }'
	'tracepoint:sched:sched_switch { @[kstack] = count(); }'
	'tracepoint:syscalls:sys_exit_read /pid == 1/ { @bytes = hist(args->ret); }'
)

# prog_ids PID prints the sorted IDs of the BPF programs PID holds.
prog_ids() {
	cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" {print $2}' | sort -un
}

# measure N TOOL runs one-liner N under TOOL until its set of programs has
# been the same for a second, and prints one line per program:
# "N TOOL ID TYPE NAME INSNS JITED".
measure() {
	local n=$1 tool=$2 ids prev='' stable=0 i id
	"${BIN[$tool]}" -e "${LINERS[$n]}" >"$TMP/out" 2>"$TMP/err" &
	TRACER=$!
	for ((i = 0; i < TIMEOUT * 10 && stable < 10; i++)); do
		sleep 0.1
		ids=$(prog_ids "$TRACER")
		if [[ -n $ids && $ids == "$prev" ]]; then
			((stable++))
		else
			stable=0
		fi
		prev=$ids
	done
	if ((stable < 10)); then
		note "$tool: ${NAMES[$n]}: no stable set of programs within ${TIMEOUT} s:"
		tail -n 3 "$TMP/err" | sed 's/^/    /' >&2
	else
		for id in $ids; do
			if ! "$BPFTOOL" prog show id "$id" >"$TMP/show" 2>/dev/null; then
				note "$tool: ${NAMES[$n]}: program $id went away before it was read"
				continue
			fi
			awk -v n="$n" -v t="$tool" -v id="$id" '
				NR == 1 {typ = $2; name = "-"; for (i = 3; i < NF; i++) if ($i == "name") name = $(i + 1)}
				{for (i = 1; i < NF; i++) {
					if ($i == "xlated") xl = $(i + 1) + 0
					if ($i == "jited") ji = $(i + 1) + 0
				}}
				END {print n, t, id, typ, name, xl / 8, ji}' "$TMP/show"
			[[ -n $DUMP ]] && "$BPFTOOL" prog dump xlated id "$id" >>"$DUMP/$((n + 1)).$tool.txt"
		done
	fi
	kill -INT "$TRACER" 2>/dev/null
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		kill -0 "$TRACER" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$TRACER" 2>/dev/null
	wait "$TRACER" 2>/dev/null
	TRACER=
}

[[ -n $DUMP ]] && rm -f "$DUMP"/*.txt
: >"$TMP/progs"
for ((n = 0; n < ${#LINERS[@]}; n++)); do
	for tool in "${TOOLS[@]}"; do
		measure "$n" "$tool" >>"$TMP/progs"
	done
done

for ((n = 0; n < ${#LINERS[@]}; n++)); do
	printf '%2d  %s\n' $((n + 1)) "${LINERS[$n]}"
done
echo
printf '%-2s %-15s %8s %8s %8s %8s %8s %8s %8s\n' n one-liner e_progs e_insns e_jited b_progs b_insns b_jited e/b_insns
for ((n = 0; n < ${#LINERS[@]}; n++)); do
	awk -v n="$n" -v name="${NAMES[$n]}" '
		$1 == n {p[$2]++; x[$2] += $6; j[$2] += $7}
		function v(a, t) {return t in p ? a[t] : "n/a"}
		END {
			r = ("ebtrace" in p && "bpftrace" in p && x["bpftrace"] > 0) ? sprintf("%.2f", x["ebtrace"] / x["bpftrace"]) : "n/a"
			printf "%-2d %-15s %8s %8s %8s %8s %8s %8s %8s\n", n + 1, name,
				v(p, "ebtrace"), v(x, "ebtrace"), v(j, "ebtrace"),
				v(p, "bpftrace"), v(x, "bpftrace"), v(j, "bpftrace"), r
		}' "$TMP/progs"
done
echo
echo "programs (n tool id type name insns jited):"
awk '{$1 = $1 + 1; print}' "$TMP/progs"
