package tracepoint

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/types"
)

// killFormat is syscalls:sys_enter_kill's format file from a 6.18 kernel:
// like every syscall event's, its arguments sit in 8-byte slots marked
// unsigned whatever their declared type.
const killFormat = `name: sys_enter_kill
ID: 251
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:pid_t pid;	offset:16;	size:8;	signed:0;
	field:int sig;	offset:24;	size:8;	signed:0;

print fmt: "pid: 0x%08lx, sig: 0x%08lx", ((unsigned long)(REC->pid)), ((unsigned long)(REC->sig))
`

// TestDeclaredTypes types syscall arguments by their declared C type, a
// typedef through the kernel's BTF (kerneltest.FakeTypes has pid_t), and
// other events' fields by their format; without BTF a typedef keeps the
// slot's type.
func TestDeclaredTypes(t *testing.T) {
	kill := kernel.NewEvents(fstest.MapFS{"events/syscalls/sys_enter_kill/format": {Data: []byte(killFormat)}})
	withBTF := func() (*btf.Spec, error) { return kerneltest.FakeTypes(0), nil }
	noBTF := func() (*btf.Spec, error) { return nil, errors.New("no BTF here") }
	for _, tc := range []struct {
		events *kernel.Events
		types  func() (*btf.Spec, error)
		spec   string
		field  string
		want   types.Type
	}{
		{kill, withBTF, "syscalls:sys_enter_kill", "pid", types.IntOf(4, true)},
		{kill, withBTF, "syscalls:sys_enter_kill", "sig", types.IntOf(4, true)},
		{kill, noBTF, "syscalls:sys_enter_kill", "pid", types.IntOf(8, false)},
		{kill, noBTF, "syscalls:sys_enter_kill", "sig", types.IntOf(4, true)},
		{kerneltest.Fake(), withBTF, "syscalls:sys_enter_openat", "dfd", types.IntOf(4, true)},
		{kerneltest.Fake(), withBTF, "syscalls:sys_enter_openat", "flags", types.IntOf(4, true)},
		{kerneltest.Fake(), withBTF, "syscalls:sys_enter_openat", "mode", types.IntOf(8, false)}, // umode_t: not in the fake BTF
		{kerneltest.Fake(), withBTF, "syscalls:sys_enter_openat", "filename", types.Pointer("char", types.User)},
		{kerneltest.Fake(), withBTF, "syscalls:sys_enter_write", "fd", types.IntOf(4, false)},
		{kerneltest.Fake(), withBTF, "syscalls:sys_exit_openat", "ret", types.IntOf(8, true)},
		{kerneltest.Fake(), withBTF, "sched:sched_switch", "prev_pid", types.IntOf(4, true)},
		{kerneltest.Fake(), withBTF, "sched:sched_switch", "prev_state", types.IntOf(8, true)},
	} {
		env := &probe.Env{Events: func() (*kernel.Events, error) { return tc.events, nil }, KernelTypes: tc.types}
		insts, err := Provider{}.Expand(tc.spec, env)
		if err != nil {
			t.Fatal(err)
		}
		arg, err := insts[0].Arg(tc.field)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := insts[0].(*instance).format.Field(tc.field)
		if arg.Type != tc.want || arg.Offset != f.Offset+lowBytes(f.Size, tc.want.Size) {
			t.Errorf("%s %s: %v at %d, want %v at %d", tc.spec, tc.field, arg.Type, arg.Offset, tc.want, f.Offset+lowBytes(f.Size, tc.want.Size))
		}
	}
}
