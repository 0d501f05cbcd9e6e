package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
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

// TestTracex4 runs both forms of tracex4 on `workload hold`, each listing
// every object and at most two a second, and checks that they count the
// same objects while the files are held and after.
func TestTracex4(t *testing.T) {
	wl := testutil.Workload(t)
	hold := wl + " hold " + strconv.Itoa(heldFiles) + " " + holdMS
	var counts [2][2]int // script's and C's (held, after)
	for _, c := range []struct {
		name string
		form int
		max  int
	}{
		{"script", 0, 100},
		{"script_max", 0, 2},
		{"C", 1, 100},
		{"C_max", 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var lines []string
			if c.form == 0 {
				r := runCLI(t, "../../examples/2015/tracex4.bt", "-c", hold, "--", "--cache=filp", "--max="+strconv.Itoa(c.max))
				if r.code != 0 {
					t.Fatalf("exit status %d: %s", r.code, r.stderr)
				}
				lines = strings.Split(r.stdout, "\n")
			} else {
				obj := testutil.BuildBPF(t, "../../examples/2015/tracex4.bpf.c")
				r := runCLI(t, "run", "--perf-event", "interval:s:1", "--set", "targ_cache=filp", "--set", "max_lines="+strconv.Itoa(c.max), "-c", hold, obj)
				if r.code != 0 {
					t.Fatalf("exit status %d: %s", r.code, r.stderr)
				}
				// The global that counts unlisted objects is shown at exit.
				lines = printkMessages(t, r.stdout, regexp.MustCompile(`^@unlisted: \d+$`))
			}
			held, after := checkHeldFiles(t, parseTracex4(t, lines), c.max)
			if c.max == 100 {
				counts[c.form] = [2]int{held, after}
			}
		})
	}
	if counts[0] != [2]int{} && counts[1] != [2]int{} && counts[0] != counts[1] {
		t.Errorf("objects while held and after: the script counted %v, the C program %v", counts[0], counts[1])
	}
}

// printkLine is a bpf_printk line as ebtrace run shows it: the trace
// pipe's COMM-PID [CPU] FLAGS SECONDS: and the message.
var printkLine = regexp.MustCompile(`^.+-\d+ +\[\d+\] \S+ +\d+\.\d+: (.*)$`)

// printkMessages returns the messages of ebtrace run's bpf_printk lines.
// The other lines must be blank or match other.
func printkMessages(t *testing.T, stdout string, other *regexp.Regexp) []string {
	t.Helper()
	var msgs []string
	for _, line := range strings.Split(stdout, "\n") {
		if m := printkLine.FindStringSubmatch(line); m != nil {
			msgs = append(msgs, m[1])
		} else if line != "" && (other == nil || !other.MatchString(line)) {
			t.Errorf("unexpected line %q", line)
		}
	}
	return msgs
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
		if strings.HasPrefix(line, "mmap(") || strings.HasPrefix(line, "munmap(") {
			// The Go runtime's own memory, mapped by its other threads
			// whenever it needs: not the workload's calls.
			continue
		}
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

// TestTracex5 runs both forms of tracex5 on `workload rw`, and checks that
// each shows its calls on /dev/zero, the same in both. The script also
// refuses to trace everything.
func TestTracex5(t *testing.T) {
	wl := testutil.Workload(t)
	rw := wl + " rw " + strconv.Itoa(rwPairs) + " " + rwSize
	var calls [2][]string
	t.Run("script", func(t *testing.T) {
		r := runCLI(t, "../../examples/2015/tracex5.bt", "-c", rw)
		if r.code != 0 {
			t.Fatalf("exit status %d: %s", r.code, r.stderr)
		}
		calls[0] = tracex5Calls(t, strings.Split(strings.TrimRight(r.stdout, "\n"), "\n"))
		checkRWCalls(t, calls[0])

		r = runCLI(t, "../../examples/2015/tracex5.bt")
		r.want(t, 1, "tracex5 traces one process: give it -c CMD, or -p PID -- --pid=PID\n\n\n")
	})
	t.Run("C", func(t *testing.T) {
		obj := testutil.BuildBPF(t, "../../examples/2015/tracex5.bpf.c")
		r := runCLI(t, "run", "-c", rw, obj)
		if r.code != 0 {
			t.Fatalf("exit status %d: %s", r.code, r.stderr)
		}
		calls[1] = tracex5Calls(t, printkMessages(t, r.stdout, nil))
		checkRWCalls(t, calls[1])
	})
	if calls[0] != nil && calls[1] != nil && !slices.Equal(calls[0], calls[1]) {
		t.Errorf("the script showed\n%s\nthe C program\n%s", strings.Join(calls[0], "\n"), strings.Join(calls[1], "\n"))
	}
}
