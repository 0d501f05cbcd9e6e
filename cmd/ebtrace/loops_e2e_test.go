package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// A while loop and a for over a map in END, over counts a tracepoint
// gathered, and tuples as map values, in text and JSON: the workload
// writes 1, 2, ... 1024 bytes.
func TestLoopsAndTuples(t *testing.T) {
	testutil.RequireHelper(t, ebpf.TracePoint, asm.FnForEachMapElem)
	wl := testutil.Workload(t)
	comm := filepath.Base(wl)
	if len(comm) > 15 {
		comm = comm[:15]
	}
	const script = `tracepoint:syscalls:sys_enter_write /pid == cpid/ {
	@n[args.count % 3]++;
	@last[args.count % 2] = (args.count, comm);
}
END {
	$total = 0;
	for ($kv : @n) { $total += $kv.1; }
	printf("total %d\n", $total);
	$i = 0;
	while ($i < 3) { printf("%d: %d\n", $i, @n[$i]); $i++; }
	print(($total, "writes"));
}`
	r := runCLI(t, "-e", script, "-c", wl+" write 1 1024")
	r.want(t, 0, "total 1024\n0: 341\n1: 342\n2: 341\n(1024, writes)\n\n\n"+
		"@last[0]: (1024, "+comm+")\n@last[1]: (1023, "+comm+")\n"+
		"@n[0]: 341\n@n[2]: 341\n@n[1]: 342\n")
	r = runCLI(t, "-f", "json", "-e", script, "-c", wl+" write 1 1024")
	r.want(t, 0, `{"type": "attached_probes", "data": {"probes": 2}}
{"type": "printf", "data": "total 1024\n"}
{"type": "printf", "data": "0: 341\n"}
{"type": "printf", "data": "1: 342\n"}
{"type": "printf", "data": "2: 341\n"}
{"type": "value", "data": [1024,"writes"]}
{"type": "map", "data": {"@last": {"0": [1024,"`+comm+`"], "1": [1023,"`+comm+`"]}}}
{"type": "map", "data": {"@n": {"0": 341, "2": 341, "1": 342}}}
`)
}

// In the body of a for over a map, a uprobe's func (a constant) works
// but its arguments, read from the context, are refused.
func TestForMapContext(t *testing.T) {
	testutil.RequireHelper(t, ebpf.Kprobe, asm.FnForEachMapElem)
	bin := cTarget(t, "-O0")
	r := runCLI(t, "-e", "uprobe:"+bin+":add { @n[arg0] = 1; for ($kv : @n) { @f[func] += $kv.0; } }", "-c", bin+" 3")
	r.want(t, 0, "\n\n@f[add]: 4\n@n[0]: 1\n@n[1]: 1\n@n[2]: 1\n")
	r = runCLI(t, "-e", "uprobe:"+bin+":add { @n[1] = 1; for ($kv : @n) { @a = arg0; } }")
	if r.code == 0 || !strings.Contains(r.stderr, "arg0 cannot be used in the body of the for loop over a map on line 1") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
