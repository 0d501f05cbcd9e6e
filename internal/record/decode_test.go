package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// rawRecord builds a trace record of size n: the common header (type,
// flags, preempt count, pid), then the values put at their offsets.
type rawRecord []byte

func newRecord(f *kernel.Format, n int, pid int32) rawRecord {
	r := make(rawRecord, n)
	binary.NativeEndian.PutUint16(r[0:], uint16(f.ID))
	r[2], r[3] = 0x1, 0x2
	binary.NativeEndian.PutUint32(r[4:], uint32(pid))
	return r
}

func (r rawRecord) u16(off int, v uint16) rawRecord {
	binary.NativeEndian.PutUint16(r[off:], v)
	return r
}
func (r rawRecord) u32(off int, v uint32) rawRecord {
	binary.NativeEndian.PutUint32(r[off:], v)
	return r
}
func (r rawRecord) u64(off int, v uint64) rawRecord {
	binary.NativeEndian.PutUint64(r[off:], v)
	return r
}
func (r rawRecord) str(off int, s string) rawRecord { copy(r[off:], s); return r }

func fakeFormat(t *testing.T, category, name string) *kernel.Format {
	t.Helper()
	f, err := kerneltest.Fake().Format(category, name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// render writes events through a sink and returns what it wrote.
func render(t *testing.T, format string, lost []uint64, events ...*Event) string {
	t.Helper()
	var b bytes.Buffer
	sink, err := NewSink(format, &b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := sink.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Finish(lost); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDecodeFakeFormats(t *testing.T) {
	openat := fakeFormat(t, "syscalls", "sys_enter_openat")
	// dfd is -100 passed in a 64-bit register as a 32-bit int: the upper
	// half is zero, as the kernel stores it.
	openRaw := newRecord(openat, 48, 4321).u32(8, 257).u64(16, 0xffffff9c).u64(24, 0x7ffd1234).u64(32, 0x80000).u64(40, 0o644)
	sw := fakeFormat(t, "sched", "sched_switch")
	swRaw := newRecord(sw, 64, 0).str(8, "swapper/1").u32(24, 0).u32(28, 120).u64(32, ^uint64(0)).
		str(40, "workload-with-a-long-name").u32(56, 77).u32(60, 0xffffff9c)
	exec := fakeFormat(t, "sched", "sched_process_exec")
	execRaw := newRecord(exec, 40, 55).u32(8, uint32(len("/bin/true\x00"))<<16|20).u32(12, 55).u32(16, 54).str(20, "/bin/true\x00")
	events := []*Event{
		{Format: openat, Time: 12_345_678_901, CPU: 1, PID: 4321, TID: 4321, Comm: "cat", Raw: openRaw},
		{Format: sw, Time: 12_400_000_000, CPU: 0, PID: 0, TID: 0, Comm: "swapper/0", Raw: swRaw},
		{Format: exec, Time: 13_000_000_001, CPU: 11, PID: 55, TID: 55, Comm: "sh", Raw: execRaw},
	}
	want := `             cat-4321    [001] 12.345678: sys_enter_openat: __syscall_nr=257 dfd=-100 filename=0x7ffd1234 flags=524288 mode=420
       swapper/0-0       [000] 12.400000: sched_switch: prev_comm="swapper/1" prev_pid=0 prev_prio=120 prev_state=-1 next_comm="workload-with-a-" next_pid=77 next_prio=-100
              sh-55      [011] 13.000000: sched_process_exec: filename="/bin/true" pid=55 old_pid=54
# CPU 1: lost 3 events
`
	if got := render(t, "text", []uint64{0, 3}, events...); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
	wantJSON := `{"type":"event","event":"syscalls:sys_enter_openat","time_ns":12345678901,"cpu":1,"pid":4321,"tid":4321,"comm":"cat","fields":{"common_type":782,"common_flags":1,"common_preempt_count":2,"common_pid":4321,"__syscall_nr":257,"dfd":-100,"filename":"0x7ffd1234","flags":524288,"mode":420}}
{"type":"event","event":"sched:sched_switch","time_ns":12400000000,"cpu":0,"pid":0,"tid":0,"comm":"swapper/0","fields":{"common_type":372,"common_flags":1,"common_preempt_count":2,"common_pid":0,"prev_comm":"swapper/1","prev_pid":0,"prev_prio":120,"prev_state":-1,"next_comm":"workload-with-a-","next_pid":77,"next_prio":-100}}
{"type":"event","event":"sched:sched_process_exec","time_ns":13000000001,"cpu":11,"pid":55,"tid":55,"comm":"sh","fields":{"common_type":365,"common_flags":1,"common_preempt_count":2,"common_pid":55,"filename":"/bin/true","pid":55,"old_pid":54}}
{"type":"lost","cpu":1,"count":3}
`
	if got := render(t, "json", []uint64{0, 3}, events...); got != wantJSON {
		t.Errorf("json:\n%s\nwant:\n%s", got, wantJSON)
	}
}

// A format exercising what the fake tracefs lacks: dynamic arrays of
// wider elements, __rel_loc, fixed integer arrays, every integer size and
// sign, and a record cut short.
const everyKindFormat = `name: every_kind
ID: 9999
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:s8 a8;	offset:8;	size:1;	signed:1;
	field:u8 b8;	offset:9;	size:1;	signed:0;
	field:s16 a16;	offset:10;	size:2;	signed:1;
	field:u16 b16;	offset:12;	size:2;	signed:0;
	field:s32 a32;	offset:16;	size:4;	signed:1;
	field:u32 b32;	offset:20;	size:4;	signed:0;
	field:s64 a64;	offset:24;	size:8;	signed:1;
	field:u64 b64;	offset:32;	size:8;	signed:0;
	field:u32 regs[3];	offset:40;	size:12;	signed:0;
	field:__data_loc u64[] addrs;	offset:52;	size:4;	signed:0;
	field:__data_loc unsigned int[] lens;	offset:56;	size:4;	signed:0;
	field:__rel_loc char[] note;	offset:60;	size:4;	signed:0;
	field:__data_loc char[] empty;	offset:64;	size:4;	signed:0;
	field:void * ptr;	offset:72;	size:8;	signed:0;

print fmt: "whatever"
`

func TestDecodeEveryKind(t *testing.T) {
	f, err := kernel.ParseFormat(everyKindFormat)
	if err != nil {
		t.Fatal(err)
	}
	f.Category = "test"
	r := newRecord(f, 120, -1)
	r[8], r[9] = 0x80, 0xff
	r.u16(10, 0x8000).u16(12, 0xffff).u32(16, 0x80000000).u32(20, 0xffffffff).u64(24, 1<<63).u64(32, ^uint64(0))
	r.u32(40, 1).u32(44, 2).u32(48, 3)
	r.u32(52, 16<<16|80).u64(80, 0xdead).u64(88, 0xbeef) // two u64 at 80
	r.u32(56, 8<<16|96).u32(96, 7).u32(100, 9)           // two u32 at 96
	r.u32(60, 3<<16|40).str(104, "hi\x00")               // relative: 64+40 = 104
	r.u32(64, 0<<16|110)
	r.u64(72, 0xffff888012345678)
	e := &Event{Format: f, Time: 1, Comm: "t", PID: 1, TID: 2, Raw: r}
	want := `               t-2       [000] 0.000000: every_kind: a8=-128 b8=255 a16=-32768 b16=65535 a32=-2147483648 b32=4294967295 a64=-9223372036854775808 b64=18446744073709551615 regs={1,2,3} addrs={57005,48879} lens={7,9} note="hi" empty="" ptr=0xffff888012345678
`
	if got := render(t, "text", nil, e); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
	vals := e.Fields()
	if pid := vals[3]; pid.Field.Name != "common_pid" || pid.Int != -1 {
		t.Errorf("common_pid decoded as %+v", pid)
	}

	short := &Event{Format: f, Time: 1, Comm: "t", Raw: r[:60]}
	got := render(t, "text", nil, short)
	// Its fixed fields up to regs are whole; the dynamic data and ptr lie
	// past the cut.
	if !strings.Contains(got, "regs={1,2,3} addrs=<missing> lens=<missing> note=<missing> empty=<missing> ptr=<missing>") {
		t.Errorf("a record cut at byte 60 decodes as %q", got)
	}
	// A __data_loc pointing past the record is missing, not a panic.
	bad := append(rawRecord(nil), r...).u32(52, 200<<16|80)
	if got := render(t, "text", nil, &Event{Format: f, Comm: "t", Raw: bad}); !strings.Contains(got, "addrs=<missing>") {
		t.Errorf("an out-of-range __data_loc decodes as %q", got)
	}
}

func TestChromeTrace(t *testing.T) {
	enter := fakeFormat(t, "syscalls", "sys_enter_openat")
	exit := fakeFormat(t, "syscalls", "sys_exit_openat")
	getppid := fakeFormat(t, "syscalls", "sys_exit_getppid")
	sw := fakeFormat(t, "sched", "sched_switch")
	call := func(tid int, at uint64, dfd uint64) *Event {
		return &Event{Format: enter, Time: at, PID: 10, TID: tid, Comm: "app", Raw: newRecord(enter, 48, int32(tid)).u64(16, dfd)}
	}
	ret := func(tid int, at uint64, ret uint64) *Event {
		return &Event{Format: exit, Time: at, PID: 10, TID: tid, Comm: "app", Raw: newRecord(exit, 24, int32(tid)).u64(16, ret)}
	}
	events := []*Event{
		call(10, 1_000_500, 3),
		call(11, 1_000_600, 4), // another thread's call, open at the end
		ret(10, 1_002_750, 5),
		{Format: sw, Time: 2_000_000, PID: 0, TID: 0, Comm: "swapper/0", Raw: newRecord(sw, 64, 0).str(8, "a").str(40, "b")},
		{Format: getppid, Time: 2_100_000, PID: 10, TID: 10, Comm: "app", Raw: newRecord(getppid, 24, 10).u64(16, 1)}, // no enter
	}
	out := render(t, "chrome", []uint64{0, 0, 7}, events...)
	trace, err := testutil.ValidateChromeTrace([]byte(out))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	var got []string
	for _, e := range trace.TraceEvents {
		got = append(got, fmt.Sprintf("%s %s ts=%v dur=%v %d/%d %v", e.Ph, e.Name, e.Ts, e.Dur, e.Pid, e.Tid, e.Args))
	}
	want := []string{
		"X openat ts=1000.5 dur=2.25 10/10 map[__syscall_nr:0 dfd:3 filename:0x0 flags:0 mode:0 ret:5]",
		"i sched_switch ts=2000 dur=0 0/0 map[next_comm:b next_pid:0 next_prio:0 prev_comm:a prev_pid:0 prev_prio:0 prev_state:0]",
		"i sys_exit_getppid ts=2100 dur=0 10/10 map[__syscall_nr:0 ret:1]",
		"i sys_enter_openat ts=1000.6 dur=0 10/11 map[__syscall_nr:0 dfd:4 filename:0x0 flags:0 mode:0]",
		"i lost events ts=2100 dur=0 0/0 map[count:7 cpu:2]",
		"M thread_name ts=0 dur=0 0/0 map[name:swapper/0]",
		"M thread_name ts=0 dur=0 10/10 map[name:app]",
		"M thread_name ts=0 dur=0 10/11 map[name:app]",
		"M process_name ts=0 dur=0 0/0 map[name:swapper/0]",
		"M process_name ts=0 dur=0 10/10 map[name:app]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if lost := fmt.Sprint(trace.OtherData); lost != "map[lost_events:map[cpu2:7]]" {
		t.Errorf("otherData %s", lost)
	}
	if n := strings.Count(out, `"__syscall_nr"`); n != 3 {
		t.Errorf("__syscall_nr appears %d times, want once in each of the 3 syscall events", n)
	}
	// A schema violation is caught: a complete event without its duration.
	if _, err := testutil.ValidateChromeTrace([]byte(strings.Replace(out, `"dur":2.250,`, "", 1))); err == nil {
		t.Error("a complete event without dur passed validation")
	}
}
