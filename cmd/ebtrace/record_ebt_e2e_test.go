package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/ebt"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/record"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// The workload's 1024 writes, recorded to an .ebt file and read back:
// every enter and exit record, decoded through the format stored in the
// file, and a header that describes this machine.
func TestRecordEBT(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write", "syscalls:sys_exit_write")
	requireArgFields(t, "sys_enter_write", "__syscall_nr fd buf count")
	requireArgFields(t, "sys_exit_write", "__syscall_nr ret")
	wl := testutil.Workload(t)
	out := filepath.Join(t.TempDir(), "x.ebt")
	before, realBefore := kernel.MonotonicNow(), time.Now()
	r := runCLI(t, "record", "-e", "syscalls:sys_enter_write", "-e", "syscalls:sys_exit_write", "-o", out, "-c", wl+" write 1 1024")
	after := kernel.MonotonicNow()
	if r.code != 0 || r.stdout != "" || r.stderr != "Recording 2 events; Ctrl-C to stop\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	rd, err := ebt.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	checkHeader(t, rd.Header(), before, after, realBefore)

	enter, exit := liveFormat(t, "syscalls", "sys_enter_write"), liveFormat(t, "syscalls", "sys_exit_write")
	formats := rd.Formats()
	if len(formats) != 2 || formats[0].Tracepoint != enter.Tracepoint || formats[0].ID != enter.ID ||
		formats[1].Tracepoint != exit.Tracepoint || formats[1].ID != exit.ID {
		t.Fatalf("formats %v %v", formats[0], formats[1])
	}
	for i, f := range []*kernel.Format{enter, exit} {
		if !slices.Equal(formats[i].Fields, f.Fields) {
			t.Errorf("%s: stored fields %v, the kernel's %v", f.Tracepoint, formats[i].Fields, f.Fields)
		}
	}

	var enters, exits []int
	open := map[int]int{} // by thread, the count of a write not yet returned
	pid, fd, buf := -1, uint64(0), uint64(0)
	last := rd.Header().Start
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if pid == -1 {
			pid = e.PID
		}
		if e.PID != pid || e.TID <= 0 || e.Comm != commOf(wl) || e.CPU < 0 || e.CPU >= rd.Header().CPUs || e.Time < last {
			t.Fatalf("event %s pid %d tid %d comm %q cpu %d at %d (previous %d): want one process, %s, in time order",
				e.Format.Tracepoint, e.PID, e.TID, e.Comm, e.CPU, e.Time, last, commOf(wl))
		}
		last = e.Time
		if binary.NativeEndian.Uint16(e.Raw) != uint16(e.Format.ID) {
			t.Fatalf("raw record of %s has common_type %d", e.Format.Tracepoint, binary.NativeEndian.Uint16(e.Raw))
		}
		fields := map[string]record.Value{}
		for _, v := range (&record.Event{Format: e.Format, Raw: e.Raw}).Fields() {
			fields[v.Field.Name] = v
		}
		if fields["common_pid"].Int != int64(e.TID) || fields["__syscall_nr"].Int != unix.SYS_WRITE {
			t.Fatalf("%s: common_pid %d in thread %d, __syscall_nr %d", e.Format.Tracepoint, fields["common_pid"].Int, e.TID, fields["__syscall_nr"].Int)
		}
		switch e.Format.ID {
		case enter.ID:
			if len(enters) == 0 {
				fd, buf = fields["fd"].Uint, fields["buf"].Uint
			}
			if fields["fd"].Uint != fd || fields["buf"].Uint != buf {
				t.Fatalf("write to fd %d from %#x; the first was to %d from %#x", fields["fd"].Uint, fields["buf"].Uint, fd, buf)
			}
			n := int(fields["count"].Uint)
			enters = append(enters, n)
			open[e.TID] = n
		case exit.ID:
			n := int(fields["ret"].Int)
			if open[e.TID] != n {
				t.Fatalf("thread %d: a write returned %d after one of %d began", e.TID, n, open[e.TID])
			}
			delete(open, e.TID)
			exits = append(exits, n)
		}
	}
	if fd <= 2 {
		t.Errorf("writes to fd %d, want the workload's /dev/null", fd)
	}
	if last > rd.Stop() || rd.Stop() > after {
		t.Errorf("stop %d: want after the last event %d, before %d", rd.Stop(), last, after)
	}
	var want []int
	for n := 1; n <= 1024; n++ {
		want = append(want, n)
	}
	if !slices.Equal(enters, want) || !slices.Equal(exits, want) {
		t.Errorf("writes of %v bytes, returns of %v; want 1..1024 each", enters, exits)
	}
	if lost := rd.Lost(); len(lost) != rd.Header().CPUs || slices.ContainsFunc(lost, func(n uint64) bool { return n != 0 }) {
		t.Errorf("lost %v, want none on each of %d CPUs", lost, rd.Header().CPUs)
	}
}

// checkHeader compares a recording's header, taken between the monotonic
// times before and after, with this machine.
func checkHeader(t *testing.T, h ebt.Header, before, after uint64, realBefore time.Time) {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	btf := ""
	if raw, err := os.ReadFile(kernel.VmlinuxBTF); err == nil {
		sum := sha256.Sum256(raw)
		btf = "sha256:" + hex.EncodeToString(sum[:8])
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s %s %s %s %d %v", h.Release, h.Machine, h.Hostname, h.BTF, h.CPUs, h.BigEndian)
	want := fmt.Sprintf("%s %s %s %s %d %v", unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]), host, btf, cpus, false)
	if got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	if h.Start < before || h.Start > after {
		t.Errorf("start %d, want between %d and %d", h.Start, before, after)
	}
	// The recording began less than the run's length after realBefore.
	began := time.Unix(0, int64(h.Start)+h.RealtimeOffset)
	if d := began.Sub(realBefore); d < -time.Millisecond || d > time.Duration(after-before) {
		t.Errorf("start at %v in realtime, %v after the run began", began, d)
	}
}

// A buffer of one page cannot hold the 1024 writes: the recording counts
// per CPU what it lost, as standard error reports it, and every write is
// either an event or lost.
func TestRecordEBTLost(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	wl := testutil.Workload(t)
	out := filepath.Join(t.TempDir(), "x.ebt")
	r := runCLI(t, "record", "--buffer-size", "4K", "-e", "syscalls:sys_enter_write", "-o", out, "-c", wl+" write 1 1024")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	rd, err := ebt.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var recorded uint64
	for {
		_, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recorded++
	}
	var lost uint64
	want := "Recording 1 event; Ctrl-C to stop\n"
	for cpu, n := range rd.Lost() {
		lost += n
		if n > 0 {
			want += fmt.Sprintf("ebtrace: CPU %d lost %d events (a larger --buffer-size keeps more)\n", cpu, n)
		}
	}
	if recorded+lost != 1024 || lost == 0 {
		t.Errorf("%d recorded and %d lost, want 1024 in all and some lost", recorded, lost)
	}
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}
