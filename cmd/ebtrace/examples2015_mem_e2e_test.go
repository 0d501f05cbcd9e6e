package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ebtrace/internal/testutil"
)

// The 2015 samples about memory and syscalls (examples/2015/tracex4 and
// tracex5), run against workloads whose objects and syscalls are known.

// heldFiles is how many struct files `workload hold` keeps open, and
// holdMS how long, then how long it lives on after closing them: long
// enough for two listings with the files over a second old, and for two
// after they are gone.
const (
	heldFiles = 5
	holdMS    = "3000"
)

// tracex4Tick is one second of tracex4's output.
type tracex4Tick struct {
	objects []tracex4Object
	more    int // from "... and N more"
	count   int // from "N objects older than 1s"
}

type tracex4Object struct {
	addr        string
	age         int
	cache, site string
}

var (
	tracex4ObjectLine = regexp.MustCompile(`^(0x[0-9a-f]+) +(\d+)s (\S+) +(\S+)$`)
	tracex4MoreLine   = regexp.MustCompile(`^\.\.\. and (\d+) more$`)
	tracex4CountLine  = regexp.MustCompile(`^(\d+) objects older than 1s$`)
)

// parseTracex4 splits tracex4's lines into its seconds; blank lines (the
// empty map printing at exit) are skipped, any other line is an error.
func parseTracex4(t *testing.T, lines []string) []tracex4Tick {
	t.Helper()
	var ticks []tracex4Tick
	var cur tracex4Tick
	for _, line := range lines {
		if m := tracex4ObjectLine.FindStringSubmatch(line); m != nil {
			age, _ := strconv.Atoi(m[2])
			cur.objects = append(cur.objects, tracex4Object{m[1], age, m[3], m[4]})
		} else if m := tracex4MoreLine.FindStringSubmatch(line); m != nil {
			cur.more, _ = strconv.Atoi(m[1])
		} else if m := tracex4CountLine.FindStringSubmatch(line); m != nil {
			cur.count, _ = strconv.Atoi(m[1])
			ticks = append(ticks, cur)
			cur = tracex4Tick{}
		} else if line != "" {
			t.Fatalf("unexpected line %q in:\n%s", line, strings.Join(lines, "\n"))
		}
	}
	if cur.objects != nil || cur.more != 0 {
		t.Fatalf("a listing without its count line at the end:\n%s", strings.Join(lines, "\n"))
	}
	return ticks
}

// checkHeldFiles asserts what tracex4 with the "filp" cache must list for
// `workload hold`: each second at most max objects, the rest counted; the
// objects that live as long as the process (its executable, descriptors
// the Go runtime keeps) in every late second; the held files with them,
// exactly heldFiles more objects, of cache filp allocated in
// alloc_empty_file; and, in the seconds after the workload closed them,
// none of those. It returns the counts while the files were held and
// after.
func checkHeldFiles(t *testing.T, ticks []tracex4Tick, max int) (held, after int) {
	t.Helper()
	if len(ticks) < 3 {
		t.Fatalf("%d listings, want at least 3 in the workload's %d ms", len(ticks), 2*atoi(t, holdMS))
	}
	for i, tk := range ticks {
		if len(tk.objects) != min(tk.count, max) || tk.more != tk.count-len(tk.objects) {
			t.Errorf("second %d: %d objects listed, %d more, %d in all: want at most %d listed and the rest counted", i+1, len(tk.objects), tk.more, tk.count, max)
		}
		for _, o := range tk.objects {
			if o.age < 1 || o.cache != "filp" || o.site != "alloc_empty_file" {
				t.Errorf("second %d: listed %+v, want filp objects from alloc_empty_file over a second old", i+1, o)
			}
		}
	}
	after = ticks[len(ticks)-1].count
	held = after + heldFiles
	last := -1
	for i, tk := range ticks {
		if tk.count == held {
			last = i
		}
	}
	if last < 0 || last == len(ticks)-1 {
		t.Fatalf("no second with the %d held files (%d objects) followed by one without them; counts %v", heldFiles, held, tracex4Counts(ticks))
	}
	for i, tk := range ticks[last+1:] {
		if tk.count != after {
			t.Errorf("second %d after the held files: %d objects, want %d", i+1, tk.count, after)
		}
	}
	if max < held {
		return held, after
	}
	// Everything is listed: the held files are the objects of the last
	// second with them that the final second no longer has.
	final := map[string]bool{}
	for _, o := range ticks[len(ticks)-1].objects {
		final[o.addr] = true
	}
	files := map[string]bool{}
	for _, o := range ticks[last].objects {
		if !final[o.addr] {
			files[o.addr] = true
		}
	}
	if len(files) != heldFiles {
		t.Errorf("%d objects listed while the files were held and gone at the end, want %d", len(files), heldFiles)
	}
	for i, tk := range ticks[last+1:] {
		for _, o := range tk.objects {
			if files[o.addr] {
				t.Errorf("second %d after the held files: a held file %s is still listed", i+1, o.addr)
			}
		}
	}
	return held, after
}

func tracex4Counts(ticks []tracex4Tick) []int {
	var counts []int
	for _, tk := range ticks {
		counts = append(counts, tk.count)
	}
	return counts
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTracex4Script(t *testing.T) {
	wl := testutil.Workload(t)
	hold := wl + " hold " + strconv.Itoa(heldFiles) + " " + holdMS
	t.Run("all", func(t *testing.T) {
		r := ebtrace(t, "../../examples/2015/tracex4.bt", "-c", hold, "--", "--cache=filp", "--max=100")
		if r.code != 0 {
			t.Fatalf("exit status %d: %s", r.code, r.stderr)
		}
		checkHeldFiles(t, parseTracex4(t, strings.Split(r.stdout, "\n")), 100)
	})
	t.Run("max", func(t *testing.T) {
		r := ebtrace(t, "../../examples/2015/tracex4.bt", "-c", hold, "--", "--cache=filp", "--max=2")
		if r.code != 0 {
			t.Fatalf("exit status %d: %s", r.code, r.stderr)
		}
		checkHeldFiles(t, parseTracex4(t, strings.Split(r.stdout, "\n")), 2)
	})
}

// rwPairs and rwSize are the write and read calls `workload rw` makes.
const (
	rwPairs = 4
	rwSize  = "777"
)

var tracex5Line = regexp.MustCompile(`^(?:` +
	`openat\(dfd=-?\d+, filename=".*", flags=0x[0-9a-f]+, mode=0x[0-9a-f]+\)|` +
	`(?:write|read)\(fd=-?\d+, buf=0x[0-9a-f]+, count=\d+\)|` +
	`mmap\(addr=0x[0-9a-f]+, len=\d+, prot=0x[0-9a-f]+, flags=0x[0-9a-f]+, fd=-?\d+, off=\d+\)|` +
	`munmap\(addr=0x[0-9a-f]+, len=\d+\)|` +
	`close\(fd=-?\d+\))$`)

// tracex5Calls checks that each line is one of tracex5's calls and
// returns the calls `workload rw` makes on /dev/zero, from its openat to
// its close, with the buffer's address (which the Go runtime chooses)
// replaced by BUF.
func tracex5Calls(t *testing.T, lines []string) []string {
	t.Helper()
	for _, line := range lines {
		if !tracex5Line.MatchString(line) {
			t.Errorf("line %q is not a call tracex5 prints", line)
		}
	}
	open := slices.Index(lines, `openat(dfd=-100, filename="/dev/zero", flags=0x80002, mode=0x0)`)
	if open < 0 {
		t.Fatalf("no openat of /dev/zero in:\n%s", strings.Join(lines, "\n"))
	}
	buf := regexp.MustCompile(`buf=0x[0-9a-f]+`)
	calls := []string{lines[open]}
	for _, line := range lines[open+1:] {
		calls = append(calls, buf.ReplaceAllString(line, "buf=BUF"))
		if strings.HasPrefix(line, "close(") {
			break
		}
	}
	return calls
}

// wantRWCalls is what tracex5 must show of `workload rw` on descriptor
// fd: the open, the pairs, the close, and nothing between.
func wantRWCalls(fd string) []string {
	want := []string{`openat(dfd=-100, filename="/dev/zero", flags=0x80002, mode=0x0)`}
	for range rwPairs {
		want = append(want, "write(fd="+fd+", buf=BUF, count="+rwSize+")", "read(fd="+fd+", buf=BUF, count="+rwSize+")")
	}
	return append(want, "close(fd="+fd+")")
}

// checkRWCalls compares the calls with wantRWCalls, for the descriptor
// the first write names.
func checkRWCalls(t *testing.T, calls []string) {
	t.Helper()
	fd := ""
	if len(calls) > 1 {
		if m := regexp.MustCompile(`^write\(fd=(\d+),`).FindStringSubmatch(calls[1]); m != nil {
			fd = m[1]
		}
	}
	if want := wantRWCalls(fd); fd == "" || !slices.Equal(calls, want) {
		t.Errorf("calls of workload rw:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestTracex5Script(t *testing.T) {
	wl := testutil.Workload(t)
	r := ebtrace(t, "../../examples/2015/tracex5.bt", "-c", wl+" rw "+strconv.Itoa(rwPairs)+" "+rwSize)
	if r.code != 0 {
		t.Fatalf("exit status %d: %s", r.code, r.stderr)
	}
	checkRWCalls(t, tracex5Calls(t, strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")))

	r = ebtrace(t, "../../examples/2015/tracex5.bt")
	r.want(t, 1, "tracex5 traces one process: give it -c CMD, or -p PID -- --pid=PID\n\n\n")
}
