package check

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// TestMissingProbes checks missing_probes against the fake tracefs, which
// has syscalls:sys_enter_getppid and no sys_enter_nosuch: each mode, the
// environment variable over the config block, and a script whose every
// event probe is missing.
func TestMissingProbes(t *testing.T) {
	const both = "tracepoint:syscalls:sys_enter_nosuch, tracepoint:syscalls:sys_enter_getppid { @ = count(); }"
	for _, tc := range []struct {
		name, script, env string
		skipped, errors   int
		hint              string // of the first warning or error
	}{
		{"default warns", both, "", 1, 0, "skipped: missing_probes = warn (set it to error to stop, or ignore to say nothing)"},
		{"config error", "config = { missing_probes = error }\n" + both, "", 0, 1, "list tracepoints with: ebtrace -l 'tracepoint:*'"},
		{"config ignore", "config = { missing_probes = ignore }\n" + both, "", 0, 0, ""},
		{"env wins", "config = { missing_probes = ignore }\n" + both, "error", 0, 1, ""},
		{"wildcard matching nothing", "tracepoint:syscalls:sys_enter_no*, tracepoint:syscalls:sys_enter_getppid { @ = count(); }", "", 1, 0, ""},
		{"every probe missing", "tracepoint:syscalls:sys_enter_nosuch { @ = count(); } BEGIN { exit(); }", "", 0, 1, "no probe of the script exists on this system, so there is nothing to trace"},
		{"ignore does not hide an empty script", "config = { missing_probes = ignore }\ntracepoint:syscalls:sys_enter_nosuch { @ = count(); }", "", 0, 1, ""},
		// Only the skipped probe assigns @start: the attached one reads it
		// empty, as biolatency's done probe on kernels without its start
		// functions.
		{"a map only a skipped probe assigns", "tracepoint:syscalls:sys_enter_nosuch { @start[1] = nsecs; @n++; @comm[1] = comm; }\ntracepoint:syscalls:sys_enter_getppid /@start[1] && @comm[1] != \"\"/ { delete(@start[1]); print(@n); @ = count(); }", "", 1, 0, ""},
		{"a map no probe assigns", "tracepoint:syscalls:sys_enter_nosuch { @start[1] = nsecs; }\ntracepoint:syscalls:sys_enter_getppid /@stat[1]/ { @ = count(); }", "", 1, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, diags := checkEnv(t, tc.script, tc.env)
			if len(info.Skipped) != tc.skipped || len(diags.Items) != tc.errors {
				t.Fatalf("%d skipped, %d errors; want %d, %d:\n%v", len(info.Skipped), len(diags.Items), tc.skipped, tc.errors, diags)
			}
			all := append(slices.Clone(diags.Items), info.Skipped...)
			for _, d := range info.Skipped {
				if !d.Warning || d.Code != "missing-probe" || !strings.Contains(d.Message, "sys_enter_no") {
					t.Errorf("warning %+v", d)
				}
			}
			if tc.name == "a map only a skipped probe assigns" {
				if m, ok := info.Maps["start"]; !ok || !m.Keyed || len(m.Keys) != 1 {
					t.Errorf("@start = %+v, %v; want an empty map of one key", m, ok)
				}
				if m, ok := info.Maps["n"]; !ok || m.Keyed {
					t.Errorf("@n = %+v, %v; want an empty map without keys", m, ok)
				}
				if m, ok := info.Maps["comm"]; !ok || m.Value != types.String(16) {
					t.Errorf("@comm = %+v, %v; want an empty map of string[16]", m, ok)
				}
			}
			if tc.hint != "" && !slices.Contains(all[0].Hints, tc.hint) {
				t.Errorf("hints %q, want %q", all[0].Hints, tc.hint)
			}
		})
	}
}

// checkEnv checks script with BPFTRACE_MISSING_PROBES set to env.
func checkEnv(t *testing.T, script, env string) (*Info, *source.Diagnostics) {
	t.Helper()
	prog, err := syntax.Parse(source.NewFile("stdin", script))
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(name string) string {
		if name == "BPFTRACE_MISSING_PROBES" {
			return env
		}
		return ""
	}
	info, err := CheckWith(prog, all.Registry(), testEnv(), Options{Getenv: getenv})
	diags := &source.Diagnostics{}
	if err != nil && !errors.As(err, &diags) {
		t.Fatal(err)
	}
	return info, diags
}
