package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// folded parses a folded-stacks file into stack -> count.
func folded(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range strings.Lines(string(b)) {
		// The count follows the last space, as flamegraph.pl reads it: a
		// frame may hold spaces (Go's "interface {}", C++'s operators).
		line = strings.TrimSuffix(line, "\n")
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			t.Fatalf("%s: line %q is not \"STACK COUNT\"", path, line)
		}
		n, err := strconv.Atoi(line[i+1:])
		if err != nil {
			t.Fatalf("%s: line %q is not \"STACK COUNT\"", path, line)
		}
		out[line[:i]] += n
	}
	return out
}

// TestStackFiles counts getppid(2) calls by user stack: all 20000 come from
// one stack, so every output holds exactly that stack and count.
func TestStackFiles(t *testing.T) {
	wl := testutil.Workload(t)
	dir := t.TempDir()
	fold, svg, prof := filepath.Join(dir, "out.folded"), filepath.Join(dir, "out.svg"), filepath.Join(dir, "out.pb.gz")
	r := runCLI(t, "--folded", fold, "--flamegraph="+svg, "--pprof", prof,
		"-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[comm, ustack] = count(); }`, "-c", wl+" getppid 20000")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	stacks := folded(t, fold)
	if len(stacks) != 1 {
		t.Fatalf("%d stacks, want 1: %v", len(stacks), stacks)
	}
	var stack string
	for s, n := range stacks {
		stack = s
		if n != 20000 {
			t.Errorf("stack %q counted %d times, want 20000", s, n)
		}
	}
	frames := strings.Split(stack, ";")
	if frames[0] != commOf(wl) {
		t.Errorf("root frame %q, want the comm %q", frames[0], commOf(wl))
	}
	// Root first: runtime.main calls main.main, and the leaf is the
	// syscall stub (frame-pointer unwinding skips its caller).
	if !strings.Contains(stack, ";runtime.main;main.main;") {
		t.Errorf("no runtime.main;main.main in %q", stack)
	}
	if leaf := frames[len(frames)-1]; !strings.Contains(leaf, "Syscall") {
		t.Errorf("leaf frame %q is not the syscall stub", leaf)
	}

	f, err := os.Open(prof)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("pprof: %v", err)
	}
	if len(p.Sample) != 1 || p.Sample[0].Value[0] != 20000 || len(p.Sample[0].Location) != len(frames) {
		t.Errorf("pprof samples %v, want one of 20000 with %d locations", p.Sample, len(frames))
	}

	names := svgTexts(t, svg)
	for _, want := range append(frames, "all") {
		if !names[want] {
			t.Errorf("the SVG has no frame titled %q", want)
		}
	}
}

// svgTexts parses the SVG as XML and returns the frame names in its
// <title> elements ("NAME (N samples, P%)").
func svgTexts(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	names := map[string]bool{}
	inTitle := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("%s is not XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inTitle = tok.Name.Local == "title"
		case xml.CharData:
			if inTitle {
				name, _, _ := strings.Cut(string(tok), " (")
				names[name] = true
			}
		case xml.EndElement:
			inTitle = false
		}
	}
}

// TestProfileFlame samples a process that spins in main.spin for 500 ms
// of CPU time at 99 Hz: about 50 samples, almost all under main.spin.
func TestProfileFlame(t *testing.T) {
	wl := testutil.Workload(t)
	fold := filepath.Join(t.TempDir(), "out.folded")
	r := runCLI(t, "--folded", fold, "-e", `profile:hz:99 /pid == cpid/ { @[ustack] = count(); }`, "-c", wl+" spin 500")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	total, spin := 0, 0
	stacks := folded(t, fold)
	for stack, n := range stacks {
		total += n
		if strings.Contains(stack, "main.main;main.run;main.spin") {
			spin += n
		}
	}
	if total < 35 || total > 60 {
		t.Errorf("%d samples of 500 ms at 99 Hz, want about 50", total)
	}
	if spin < total*8/10 {
		t.Errorf("%d of %d samples in main.spin, want most: %v", spin, total, stacks)
	}
}

func TestStackFilesNeedStackMap(t *testing.T) {
	r := runCLI(t, "--flamegraph", filepath.Join(t.TempDir(), "x.svg"), "-e", `BEGIN { @ = count(); exit(); }`)
	if r.code != 1 || !strings.Contains(r.stderr, "--flamegraph needs a map keyed by a stack") {
		t.Errorf("exit %d, stderr %q; want 1 and that --flamegraph needs a stack map", r.code, r.stderr)
	}
}
