package ftfilter

import (
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// predicate parses the predicate of a one-probe script on event.
func predicate(t testing.TB, event, pred string) syntax.Expr {
	t.Helper()
	prog, err := syntax.Parse(source.NewFile("test.bt", "tracepoint:"+event+" /"+pred+"/ { }"))
	if err != nil {
		t.Fatalf("%s: %v", pred, err)
	}
	return prog.Probes[0].Pred
}

func fakeFormat(t testing.TB, category, name string) *kernel.Format {
	t.Helper()
	f, err := kerneltest.Fake().Format(category, name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDump(t *testing.T) {
	for _, c := range []struct{ ev, pred string }{
		{"syscalls:sys_enter_write", "args.count == 5"},
		{"syscalls:sys_enter_write", "args.count > 5"},
		{"syscalls:sys_enter_write", "args.fd == 1"},
		{"syscalls:sys_enter_write", "args.fd != 1"},
		{"syscalls:sys_enter_write", "args.__syscall_nr < 0"},
		{"syscalls:sys_enter_openat", "args.dfd == -100"},
		{"syscalls:sys_enter_openat", "args.mode == 0644"},
		{"sched:sched_switch", "args.prev_pid == -1 || comm == \"bash\" && tid != 4"},
		{"sched:sched_switch", "args.prev_state & 3"},
		{"sched:sched_switch", "!(args.prev_state & 3) && @x"},
		{"sched:sched_switch", "args.prev_comm == \"swapper/0\" && cpu < 2"},
		{"sched:sched_process_exec", "args.filename != \"/bin/true\""},
	} {
		f, ok := fakeFormat(t, "syscalls", "sys_enter_write"), true
		_ = ok
		cat, name, _ := cut(c.ev)
		f = fakeFormat(t, cat, name)
		got, exact := Translate(predicate(t, c.ev, c.pred), f)
		t.Logf("%-50s -> %q %v", c.pred, got, exact)
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
