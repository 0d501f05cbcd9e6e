package filter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
)

// relLocFormat is an event with a __rel_loc string, which no event of the
// test kernel has.
const relLocFormat = `name: rel_event
ID: 999
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:short delta;	offset:8;	size:2;	signed:1;
	field:__rel_loc char[] name;	offset:12;	size:4;	signed:0;
	field:__u8 saddr[4];	offset:16;	size:4;	signed:0;
	field:__u8 saddr_v6[16];	offset:20;	size:16;	signed:0;

print fmt: "%s", __get_rel_str(name)
`

// TestListings checks the instructions of small filters, one feature each.
func TestListings(t *testing.T) {
	write, err := kerneltest.Fake().Format("syscalls", "sys_enter_write")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := kernel.ParseFormat(relLocFormat)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format *kernel.Format
		src    string
		want   string // the instructions between the prologue and the exits
	}{
		{write, "count == 7", `
			LdXMemDW dst: r0 src: r6 off: 32 imm: 0
			LdImmDW dst: r1 imm: 7
			JEqReg dst: r0 off: -1 src: r1 <filter_1>
			Ja off: -1 <filter_2>`},
		// A signed 2-byte field is sign-extended, and -1 compares as -1.
		{rel, "delta < -1", `
			LdXMemH dst: r0 src: r6 off: 8 imm: 0
			LShImm dst: r0 imm: 48
			ArShImm dst: r0 imm: 48
			LdImmDW dst: r1 imm: -1
			JSLTReg dst: r0 off: -1 src: r1 <filter_1>
			Ja off: -1 <filter_2>`},
		// A 4-byte array compares as a u32, as in the kernel.
		{rel, "saddr == 0x0100007f", `
			LdXMemW dst: r0 src: r6 off: 16 imm: 0
			LdImmDW dst: r1 imm: 16777343
			JEqReg dst: r0 off: -1 src: r1 <filter_1>
			Ja off: -1 <filter_2>`},
		// common_pid is the thread id: the low half of pid_tgid; common_type
		// is the event's ID (840 in the fake tracefs).
		{write, "common_pid != 5 || common_type & 4", `
			Call FnGetCurrentPidTgid
			LShImm dst: r0 imm: 32
			RShImm dst: r0 imm: 32
			LdImmDW dst: r1 imm: 5
			JNEReg dst: r0 off: -1 src: r1 <filter_1>
			Ja off: -1 <filter_3>
			filter_3:
			MovImm dst: r0 imm: 840
			LdImmDW dst: r1 imm: 4
			AndReg dst: r0 src: r1
			JNEImm dst: r0 off: -1 imm: 0 <filter_1>
			Ja off: -1 <filter_2>`},
	} {
		expr, err := Parse(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		insns, err := Compile(expr, tc.format, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(fmt.Sprint(insns[1:len(insns)-4]), "\n") {
			switch line = strings.TrimSpace(line); {
			case strings.HasSuffix(line, ":"): // a label
				got = append(got, line)
			case line != "": // "N: instruction"
				got = append(got, strings.TrimSpace(line[strings.Index(line, ":")+1:]))
			}
		}
		var want []string
		for _, line := range strings.Split(strings.TrimSpace(tc.want), "\n") {
			want = append(want, strings.TrimSpace(line))
		}
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", tc.src, g, w)
		}
	}
}

// TestRelLoc checks where a __rel_loc string is read from: its offset
// counts from the end of its own 4-byte field.
func TestRelLoc(t *testing.T) {
	rel, err := kernel.ParseFormat(relLocFormat)
	if err != nil {
		t.Fatal(err)
	}
	expr, err := Parse(`name == "ab"`)
	if err != nil {
		t.Fatal(err)
	}
	insns, err := Compile(expr, rel, Options{})
	if err != nil {
		t.Fatal(err)
	}
	listing := fmt.Sprint(insns)
	for _, want := range []string{
		"LdXMemW dst: r7 src: r6 off: 12 imm: 0", // length<<16 | offset
		"AndImm dst: r3 imm: 65535",
		"AddReg dst: r3 src: r6",
		"AddImm dst: r3 imm: 16", // the end of the field: 12+4
		"RShImm dst: r7 imm: 16",
		"Call FnProbeReadKernelStr",
	} {
		if !strings.Contains(listing, want) {
			t.Errorf("no %q in\n%s", want, listing)
		}
	}
}

// TestWideArray checks that an array no integer holds is a diagnostic.
func TestWideArray(t *testing.T) {
	rel, err := kernel.ParseFormat(relLocFormat)
	if err != nil {
		t.Fatal(err)
	}
	want := `filter:1:1: error: saddr_v6 is __u8[16], 16 bytes, which a filter cannot compare
    saddr_v6 == 1
    ^~~~~~~~
hint: filters compare integers of 1, 2, 4 or 8 bytes and strings`
	if got := diagnose("saddr_v6 == 1", rel); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
