package tracepoint

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// syscallAliases are the syscalls whose tracepoints are named after their
// kernel function rather than their name in unistd.h (kernel.SyscallName).
var syscallAliases = map[string]string{
	"newstat": "stat", "newfstat": "fstat", "newlstat": "lstat",
	"newuname": "uname", "umount": "umount2", "sendfile64": "sendfile",
}

// syscallCarriers are the raw_syscalls events that carry the syscalls
// category's, by the prefix of the carried events' names:
// sys_enter_NAME fires from raw_syscalls:sys_enter on a native syscall
// numbered as NAME is, sys_exit_NAME from raw_syscalls:sys_exit.
var syscallCarriers = map[string]string{"sys_enter_": "sys_enter", "sys_exit_": "sys_exit"}

// carriers finds the carriers of one expansion's instances, reading each
// carrier's format and building its guard once.
type carriers struct {
	env  *probe.Env
	mu   sync.Mutex
	byTP map[string]*carrier
}

type carrier struct {
	format  *kernel.Format
	carrier *probe.Carrier
	err     error
}

// get returns the raw_syscalls carrier name; an error when it cannot
// carry (no such event, no guard).
func (cs *carriers) get(name string) (*carrier, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.byTP[name]; ok {
		return c, c.err
	}
	c := &carrier{}
	c.format, c.err = cs.load(name)
	if c.err == nil {
		guard, err := compatGuard(cs.env)
		c.err = err
		c.carrier = &probe.Carrier{
			Name:      "tracepoint:raw_syscalls:" + name,
			KeyOffset: keyOffset(c.format),
			Guard:     guard,
			Attach: func(prog *ebpf.Program) (io.Closer, error) {
				return attach(c.format, prog)
			},
		}
	}
	if cs.byTP == nil {
		cs.byTP = map[string]*carrier{}
	}
	cs.byTP[name] = c
	return c, c.err
}

func (cs *carriers) load(name string) (*kernel.Format, error) {
	events, err := cs.env.Events()
	if err != nil {
		return nil, err
	}
	f, err := events.Format("raw_syscalls", name)
	if err != nil {
		return nil, err
	}
	if key, ok := f.Field("id"); !ok || key.Size != 8 || !key.Signed {
		return nil, fmt.Errorf("raw_syscalls:%s has no 8-byte signed id", name)
	}
	return f, nil
}

func keyOffset(f *kernel.Format) int {
	key, _ := f.Field("id")
	return key.Offset
}

// Carrier implements probe.Carried: a syscalls tracepoint of a native
// syscall runs on raw_syscalls when the format files lay out its fields
// where the carrier has the same values, and the architecture's syscall
// numbers and 32-bit guard are known (kernel.SyscallNumber, compatGuard).
func (i *instance) Carrier() (*probe.Carrier, int64, bool) {
	if i.carriers == nil || i.format.Category != "syscalls" {
		return nil, 0, false
	}
	for prefix, name := range syscallCarriers {
		syscall, ok := strings.CutPrefix(i.format.Name, prefix)
		if !ok {
			continue
		}
		nr, ok := kernel.SyscallNumber(cmp.Or(syscallAliases[syscall], syscall))
		if !ok {
			return nil, 0, false
		}
		c, err := i.carriers.get(name)
		if err != nil || !carries(c.format, i.format) {
			return nil, 0, false
		}
		return c.carrier, int64(nr), true
	}
	return nil, 0, false
}

// carries reports whether every field of the carried event lies in the
// carrier's context where the carrier holds the same value: the syscall
// number in id, each argument in its slot of args, ret in ret, and the
// common fields where they always are.
func carries(carrier, carried *kernel.Format) bool {
	for _, f := range carried.Fields {
		if f.DataLoc {
			return false
		}
		name := f.Name
		if name == "__syscall_nr" {
			name = "id"
		}
		if !covered(carrier, f, name) {
			return false
		}
	}
	return true
}

// covered reports whether carrier has field name where f is (a scalar
// of f's size, or the low bytes of the 8-byte id, read on a little-endian
// machine), or an array of f-sized elements with one at f's offset.
func covered(carrier *kernel.Format, f kernel.Field, name string) bool {
	for _, c := range carrier.Fields {
		switch {
		case c.Common != f.Common || f.Offset < c.Offset || f.Offset+f.Size > c.Offset+c.Size:
		case c.ArrayLen > 0 && !f.Common:
			return c.Size/c.ArrayLen == f.Size && (f.Offset-c.Offset)%f.Size == 0
		case c.Name == name && c.Offset == f.Offset:
			return c.Size == f.Size || (name == "id" && lowBytes(c.Size, f.Size) == 0)
		}
	}
	return false
}
