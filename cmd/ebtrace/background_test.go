package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// background is an ebtrace process running while the test goes on, its
// output collected.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr *testutil.Buffer
	exited         chan error
}

// startBackground runs ebtrace with args until the test ends, and returns
// once it said ready on stderr (case aside: "Attached 2 probes" and
// "2 programs attached" are both ready at "attached").
func startBackground(t *testing.T, ready string, args ...string) *background {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	s := &background{cmd: exec.Command(testutil.Build(t, "./cmd/ebtrace"), args...),
		stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}, exited: make(chan error, 1)}
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
	s.waitStderr(t, ready)
	return s
}

// waitStderr waits until the process has said text on stderr (case
// aside), failing the test if it exits first.
func (s *background) waitStderr(t *testing.T, text string) {
	t.Helper()
	said := func() bool { return strings.Contains(strings.ToLower(s.stderr.String()), strings.ToLower(text)) }
	for deadline := time.Now().Add(10 * time.Second); !said(); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-s.exited:
			s.exited <- err
			t.Fatalf("%v exited (%v) before saying %q; stderr:\n%s", s.cmd.Args, err, text, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not say %q in 10 s; stderr:\n%s", s.cmd.Args, text, s.stderr.String())
		}
	}
}

// stop ends the process with SIGINT, fails the test unless it exits 0,
// and returns its standard output.
func (s *background) stop(t *testing.T) string {
	t.Helper()
	s.end(t, syscall.SIGINT)
	return s.stdout.String()
}

// term ends the process with SIGTERM and fails the test unless it exits 0.
func (s *background) term(t *testing.T) {
	t.Helper()
	s.end(t, syscall.SIGTERM)
}

// end sends sig and fails the test unless the process exits 0 soon.
func (s *background) end(t *testing.T, sig syscall.Signal) {
	t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case err := <-s.exited:
		s.exited <- err
		if err != nil {
			t.Fatalf("ebtrace %s after %v: %v; stderr:\n%s", s.cmd.Args[1], sig, err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("ebtrace %s still runs 20 s after %v; stderr:\n%s", s.cmd.Args[1], sig, s.stderr.String())
	}
}

// waitReleased waits until no process holds the programs and links: the
// kernel detaches hundreds of tracepoints in tens of seconds.
func waitReleased(t *testing.T, progs, links []int) {
	t.Helper()
	waitWithin(t, time.Minute, func() bool {
		for _, id := range progs {
			if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
				p.Close()
				return false
			}
		}
		for _, id := range links {
			if l, err := link.NewFromID(link.ID(id)); err == nil {
				l.Close()
				return false
			}
		}
		return true
	})
}
