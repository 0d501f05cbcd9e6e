package probe

import (
	"errors"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/glob"
)

// listOnly is a provider that lists fixed probes and expands nothing.
type listOnly struct {
	names  []string
	probes []string
}

func (l listOnly) Names() []string                         { return l.names }
func (l listOnly) Expand(string, *Env) ([]Instance, error) { return nil, nil }
func (l listOnly) Probes(string, *Env) ([]Listing, error) {
	var out []Listing
	for _, p := range l.probes {
		out = append(out, Listing{Name: p})
	}
	return out, nil
}

func TestListWildcards(t *testing.T) {
	reg := NewRegistry(
		listOnly{[]string{"kprobe", "k"}, []string{"kprobe:vfs_read", "kprobe:vfs_write", "kprobe:ksys_read"}},
		listOnly{[]string{"tracepoint", "t"}, []string{"tracepoint:syscalls:sys_enter_read", "tracepoint:sched:sched_switch"}},
	)
	for pattern, want := range map[string]string{
		"k:vfs_*":           "kprobe:vfs_read kprobe:vfs_write",
		"[kt]*:*_read":      "kprobe:vfs_read kprobe:ksys_read tracepoint:syscalls:sys_enter_read",
		"*:[!v]*read":       "kprobe:ksys_read tracepoint:syscalls:sys_enter_read",
		"t:s???????:*":      "tracepoint:syscalls:sys_enter_read",
		`kprobe:vfs\_read`:  "kprobe:vfs_read",
		"*sched_switch":     "tracepoint:sched:sched_switch",
		"kprobe:vfs_[a-r]*": "kprobe:vfs_read",
	} {
		var out strings.Builder
		if err := reg.List(&Env{}, pattern, false, &out); err != nil {
			t.Errorf("-l %s: %v", pattern, err)
			continue
		}
		if got := strings.Join(strings.Fields(out.String()), " "); got != want {
			t.Errorf("-l %s lists %q, want %q", pattern, got, want)
		}
	}
	err := reg.List(&Env{}, "kprobe:vfs_[rw", false, &strings.Builder{})
	if !errors.Is(err, glob.ErrBadPattern) || err.Error() != "-l: bad wildcard pattern kprobe:vfs_[rw: its [ at byte 11 has no closing ] (write \\[ for a literal [)" {
		t.Errorf("-l kprobe:vfs_[rw: %v", err)
	}
}

func TestCheckPattern(t *testing.T) {
	if err := CheckPattern("kprobe:vfs_[rw]*", "vfs_[rw]*"); err != nil {
		t.Errorf("a well-formed pattern: %v", err)
	}
	var pe *Error
	err := CheckPattern("kprobe:vfs_\\", "vfs_\\")
	if !errors.As(err, &pe) || pe.Msg != `kprobe:vfs_\: bad wildcard pattern vfs_\: it ends in a \ that escapes nothing` || len(pe.Hints) != 1 || pe.Hints[0] != glob.Syntax {
		t.Errorf("a malformed pattern: %#v", err)
	}
}
