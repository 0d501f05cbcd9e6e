package object

import (
	"strings"
	"testing"
)

func TestParseSection(t *testing.T) {
	for _, c := range []struct {
		name string
		want section
		err  string
	}{
		{"tracepoint/syscalls/sys_enter_write", section{provider: "tracepoint", target: "syscalls:sys_enter_write"}, ""},
		{"tp/sched/sched_switch", section{provider: "tracepoint", target: "sched:sched_switch"}, ""},
		{"events/net/netif_receive_skb", section{provider: "tracepoint", target: "net:netif_receive_skb", legacy: true}, ""},
		{"raw_tp/sys_enter", section{provider: "rawtracepoint", target: "sys_enter"}, ""},
		{"raw_tracepoint/sched_switch", section{provider: "rawtracepoint", target: "sched_switch"}, ""},
		{"tp_btf/sched_process_exec", section{provider: "rawtracepoint", target: "sched_process_exec"}, ""},
		{"kprobe/do_nanosleep+0x10", section{provider: "kprobe", target: "do_nanosleep+0x10"}, ""},
		{"kretprobe/vfs_read", section{provider: "kretprobe", target: "vfs_read"}, ""},
		{"ksyscall/write", section{provider: "ksyscall", target: "write"}, ""},
		{"kretsyscall/write", section{provider: "kretsyscall", target: "write"}, ""},
		{"fentry/vfs_write", section{provider: "fentry", target: "vfs_write"}, ""},
		{"fexit/vfs_write", section{provider: "fexit", target: "vfs_write"}, ""},
		{"uprobe//usr/bin/bash:readline", section{provider: "uprobe", target: "/usr/bin/bash:readline"}, ""},
		{"uretprobe//usr/bin/bash:readline", section{provider: "uretprobe", target: "/usr/bin/bash:readline"}, ""},
		{"usdt//usr/bin/python3:python:function__entry", section{provider: "usdt", target: "/usr/bin/python3:python:function__entry"}, ""},
		{"perf_event", section{provider: "perf_event"}, ""},
		{"tracepoint", section{}, ""},
		{"tp", section{}, ""},
		{"kprobe", section{}, ""},
		{"tracepoint/syscalls", section{}, "a tracepoint section is tracepoint/CATEGORY/NAME"},
		{"tracepoint/a/b/c", section{}, "a tracepoint section is tracepoint/CATEGORY/NAME"},
		{"events/syscalls", section{}, "the 2015 loader's events/CATEGORY/NAME: a tracepoint section is tracepoint/CATEGORY/NAME"},
		{"xdp", section{}, "ebtrace run attaches tracing programs only"},
		{"kprobe.s/vfs_read", section{}, "ebtrace run attaches tracing programs only"},
		{".text", section{}, "ebtrace run attaches tracing programs only"},
	} {
		got, err := parseSection(c.name)
		switch {
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("parseSection(%q): error %v, want %q", c.name, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("parseSection(%q): %v", c.name, err)
		case got != c.want:
			t.Errorf("parseSection(%q) = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func FuzzParseSection(f *testing.F) {
	for _, s := range []string{"tracepoint/a/b", "events/a/b", "uprobe//bin/x:f", "perf_event", "tp", "", "/", "tracepoint//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		sec, err := parseSection(name)
		if err == nil && sec.provider == "tracepoint" && strings.Count(sec.target, ":") != 1 {
			t.Errorf("parseSection(%q) = %+v: a tracepoint target is CATEGORY:NAME", name, sec)
		}
	})
}

// TestFormatMatcher checks which printed lines a bpf_printk format owns.
func TestFormatMatcher(t *testing.T) {
	for _, c := range []struct {
		format string
		yes    []string
		no     []string
	}{
		{"getppid call %d of %s", []string{"getppid call 1 of calls", "getppid call -12 of a b"}, []string{"getppid call x of calls", "getppid call 1 of", "unrelated 5"}},
		{"skb %p len %u", []string{"skb 00000000a1b2c3d4 len 84", "skb (____ptrval____) len 0"}, []string{"skb  len x"}},
		{"site %pS %5lld%%", []string{"site vfs_write+0x10/0x20    42%"}, []string{"site vfs_write 42"}},
		{"write(fd=%d, buf=%llx, count=%lu)", []string{"write(fd=5, buf=7fff1234, count=777)"}, []string{"write(fd=5, buf=7fff1234, count=777) extra"}},
		{"a.b*c", []string{"a.b*c"}, []string{"aXbbc"}},
		{"%c!", []string{"x!"}, []string{"xy!"}},
	} {
		m, err := formatMatcher(c.format)
		if err != nil {
			t.Fatalf("format %q: %v", c.format, err)
		}
		for _, s := range c.yes {
			if !m.MatchString(s) {
				t.Errorf("format %q does not match %q", c.format, s)
			}
		}
		for _, s := range c.no {
			if m.MatchString(s) {
				t.Errorf("format %q matches %q", c.format, s)
			}
		}
	}
}

func FuzzFormatMatcher(f *testing.F) {
	for _, s := range []string{"%d", "%s %p", "x%%y", "%-5lld|", "(", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		m, err := formatMatcher(format)
		if err == nil && !conversion().MatchString(format) && !m.MatchString(format) {
			t.Errorf("format %q without conversions does not match itself", format)
		}
	})
}
