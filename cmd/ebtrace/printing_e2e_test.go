package main

import (
	"testing"
)

// End-to-end tests of how values and maps print where bpftrace's shipped
// tools showed differences (issue 11).

// TestEmptyCountPrintsZero: an unkeyed count() that never ran or was
// cleared prints "@x: 0", mid-run and at exit, in text and JSON, as
// bpftrace 0.17 prints it; an empty map of another kind or a keyed count()
// prints only its blank line(s).
func TestEmptyCountPrintsZero(t *testing.T) {
	script := `tracepoint:syscalls:sys_enter_reboot { @never = count(); @sum = sum(1); @keyed[1] = count(); }
BEGIN { @cleared = count(); clear(@cleared); print(@cleared); @avg = avg(1); clear(@avg); exit(); }`
	r := ebtrace(t, "-e", script)
	r.want(t, 0, "@cleared: 0\n\n\n\n\n@cleared: 0\n\n@never: 0\n\n")
	r = ebtrace(t, "-f", "json", "-e", script)
	r.want(t, 0, `{"type": "attached_probes", "data": {"probes": 2}}
{"type": "map", "data": {"@cleared": 0}}
{"type": "map", "data": {"@cleared": 0}}
{"type": "map", "data": {"@never": 0}}
`)
}
