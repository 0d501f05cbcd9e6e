#!/usr/bin/env bash
# bench/attach.sh times ebtrace and bpftrace from spawning the process to
# their attach line, for a one-tracepoint script and four of bpftrace's
# tools, with ebtrace's EBTRACE_TIMING breakdown, the exec floor of a
# trivial static Go program and the attach floor of a minimal cilium/ebpf
# one (bench/cmd/attachfloor). See bench/README.md. Needs root and Go.
#
# Environment:
#   ROUNDS=N        rounds, the tracers taking turns in each (default 9)
#   EBTRACE=PATH    use this ebtrace binary instead of building ./cmd/ebtrace
#   BPFTRACE=PATH   use this bpftrace (default: the one on PATH, if any)
#   TOOLS=DIR       where bpftrace's tools are (default /usr/sbin)
#   TIMEOUT=S       per-run time limit in seconds (default 30)
set -u -o pipefail

ROUNDS=${ROUNDS:-9}
TOOLDIR=${TOOLS:-/usr/sbin}
TIMEOUT=${TIMEOUT:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [[ $(id -u) != 0 ]]; then
	echo "attach.sh: needs root to load BPF programs" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "attach.sh: needs the go command on PATH" >&2
	exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ebtrace-attach.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
note() { echo "attach.sh: $*" >&2; }

(cd "$ROOT" && go build -o "$TMP/benchrun" ./bench/cmd/benchrun &&
	CGO_ENABLED=0 go build -o "$TMP/startfloor" ./bench/cmd/startfloor &&
	CGO_ENABLED=0 go build -o "$TMP/attachfloor" ./bench/cmd/attachfloor) || {
	note "building the helpers failed"
	exit 1
}
EBTRACE=${EBTRACE:-}
if [[ -z $EBTRACE ]]; then
	# As the README builds it: static, with serve.
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$TMP/ebtrace" ./cmd/ebtrace) || {
		note "CGO_ENABLED=0 go build ./cmd/ebtrace failed"
		exit 1
	}
	EBTRACE=$TMP/ebtrace
fi
BPFTRACE=${BPFTRACE:-$(command -v bpftrace || true)}
[[ -z $BPFTRACE ]] && note "bpftrace not found; its column stays n/a"

echo 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }' >"$TMP/one.bt"
ROWS=("1 tracepoint")
SCRIPT=("$TMP/one.bt")
for tool in killsnoop bashreadline cpuwalk syncsnoop; do
	if [[ -r $TOOLDIR/$tool.bt ]]; then
		ROWS+=("$tool")
		SCRIPT+=("$TOOLDIR/$tool.bt")
	else
		note "$TOOLDIR/$tool.bt not found; skipping it"
	fi
done

# field KEY FILE prints KEY's value from a benchrun result line.
field() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"; }

# stats reads numbers, one per line, and prints "median (min-max)".
stats() {
	sort -n | awk '{v[NR] = $1} END {
		if (NR == 0) { print "n/a"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f (%.1f-%.1f)\n", m, v[1], v[NR]
	}'
}

# run NAME MATCH [-stdout] -- CMD... times CMD from its spawn to the first
# line on its stderr (stdout) matching MATCH, interrupts it there, and
# appends the milliseconds to $TMP/NAME; ebtrace's timing line goes to
# $TMP/NAME.timing.
run() {
	local name=$1 match=$2 stream=()
	shift 2
	[[ $1 == -stdout ]] && stream=(-stdout) && shift
	shift
	rm -f "$TMP/res"
	EBTRACE_TIMING=1 timeout -k 5 "$TIMEOUT" "$TMP/benchrun" -o "$TMP/res" -match "$match" -stop "$match" "${stream[@]}" -- \
		"$@" >"$TMP/out" 2>"$TMP/err"
	local ns
	ns=$(field match_ns "$TMP/res" 2>/dev/null)
	if [[ -z $ns ]]; then
		note "$name: no line matching '$match':"
		cat "$TMP/out" "$TMP/err" | tail -n 3 | sed 's/^/    /' >&2
		return
	fi
	awk -v ns="$ns" 'BEGIN {printf "%.3f\n", ns / 1e6}' >>"$TMP/$name"
	sed -n 's/^timing: //p' "$TMP/err" >>"$TMP/$name.timing"
}

for ((r = 0; r < ROUNDS; r++)); do
	run floor '^main$' -- "$TMP/startfloor"
	run afloor '^Attached' -- "$TMP/attachfloor"
	for i in "${!ROWS[@]}"; do
		run "e$i" '^Attached' -- "$EBTRACE" "${SCRIPT[$i]}"
		# bpftrace says "Attaching N probes..." on stdout before it
		# attaches: its figure leaves out the attaching itself.
		[[ -n $BPFTRACE ]] && run "b$i" '^Attaching' -stdout -- "$BPFTRACE" "${SCRIPT[$i]}"
	done
done

printf '%-14s %-22s %-22s %s\n' "spawn to attach line, ms" "" "" ""
printf '%-14s %-22s %-22s %s\n' "script" "ebtrace" "bpftrace" "ebtrace/bpftrace"
for i in "${!ROWS[@]}"; do
	e=$(stats <"$TMP/e$i" 2>/dev/null || echo n/a)
	b=$(stats <"$TMP/b$i" 2>/dev/null || echo n/a)
	ratio=$(awk -v e="${e%% *}" -v b="${b%% *}" 'BEGIN {if (e + 0 > 0 && b + 0 > 0) printf "%.3f", e / b; else print "n/a"}')
	printf '%-14s %-22s %-22s %s\n' "${ROWS[$i]}" "$e" "$b" "$ratio"
done
echo
echo "exec floor (a static Go program, spawn to main): $(stats <"$TMP/floor" 2>/dev/null || echo n/a) ms"
echo "attach floor (cilium/ebpf: one map, one program, one tracepoint): $(stats <"$TMP/afloor" 2>/dev/null || echo n/a) ms"
echo
echo "ebtrace's EBTRACE_TIMING breakdown, medians in ms:"
for i in "${!ROWS[@]}"; do
	[[ -s $TMP/e$i.timing ]] || continue
	printf '%-14s ' "${ROWS[$i]}"
	# Each line is "NAME X ms, NAME X ms, ...; X ms from spawn to attached".
	sed 's/; \(.*\) from spawn to attached$/, total \1/' "$TMP/e$i.timing" |
		awk -F', ' '{
			for (j = 1; j <= NF; j++) {
				w = split($j, word, " ")
				name = word[1]
				for (x = 2; x < w - 1; x++) name = name " " word[x]
				if (!(name in cnt)) order[++k] = name
				vals[name, ++cnt[name]] = word[w - 1] + 0
			}
		} END {
			for (o = 1; o <= k; o++) {
				n = order[o]; c = cnt[n]
				for (a = 1; a <= c; a++) s[a] = vals[n, a]
				for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
				printf "%s%s %.1f", (o > 1 ? ", " : ""), n, c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
			}
			print ""
		}'
done
