package tracepoint

import (
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
)

func format(t *testing.T, lines ...string) *kernel.Format {
	t.Helper()
	text := "name: x\nID: 1\nformat:\n" +
		"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n" +
		"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n" +
		"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n" +
		"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
	for _, l := range lines {
		text += "\t" + l + "\n"
	}
	f, err := kernel.ParseFormat(text + "\nprint fmt: \"\"\n")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A syscalls event runs on raw_syscalls only where every one of its
// fields lies where the carrier holds the same value.
func TestCarries(t *testing.T) {
	raw, err := kerneltest.Fake().Format("raw_syscalls", "sys_enter")
	if err != nil {
		t.Fatal(err)
	}
	openat, err := kerneltest.Fake().Format("syscalls", "sys_enter_openat")
	if err != nil {
		t.Fatal(err)
	}
	if !carries(raw, openat) {
		t.Error("raw_syscalls:sys_enter does not carry syscalls:sys_enter_openat")
	}
	nr := "field:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;"
	rawExit := format(t, "field:long id;\toffset:8;\tsize:8;\tsigned:1;", "field:long ret;\toffset:16;\tsize:8;\tsigned:1;")
	for _, c := range []struct {
		name    string
		carrier *kernel.Format
		carried []string
		want    bool
	}{
		{"exit", rawExit, []string{nr, "field:long ret;\toffset:16;\tsize:8;\tsigned:1;"}, true},
		{"last argument", raw, []string{nr, "field:int fd;\toffset:56;\tsize:8;\tsigned:0;"}, true},
		{"beyond the arguments", raw, []string{nr, "field:int fd;\toffset:64;\tsize:8;\tsigned:0;"}, false},
		{"between two arguments", raw, []string{nr, "field:int fd;\toffset:20;\tsize:8;\tsigned:0;"}, false},
		{"narrow argument", raw, []string{nr, "field:int fd;\toffset:16;\tsize:4;\tsigned:1;"}, false},
		{"number elsewhere", raw, []string{"field:int __syscall_nr;\toffset:12;\tsize:4;\tsigned:1;"}, false},
		{"string copy", raw, []string{nr, "field:__data_loc char[] name;\toffset:16;\tsize:4;\tsigned:0;"}, false},
		{"renamed return", rawExit, []string{nr, "field:long res;\toffset:16;\tsize:8;\tsigned:1;"}, false},
	} {
		if got := carries(c.carrier, format(t, c.carried...)); got != c.want {
			t.Errorf("%s: carries = %v, want %v (fields %s)", c.name, got, c.want, strings.Join(c.carried, " "))
		}
	}
}

// Every alias names a syscall with a number, and none has one of its own.
func TestSyscallAliases(t *testing.T) {
	for alias, name := range syscallAliases {
		if _, ok := kernel.SyscallNumber(name); !ok {
			t.Errorf("alias %s names %s, which has no number", alias, name)
		}
		if _, ok := kernel.SyscallNumber(alias); ok {
			t.Errorf("alias %s has a number of its own", alias)
		}
	}
}
