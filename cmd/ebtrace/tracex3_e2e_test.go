package main

import (
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// loopDevice attaches a loop device to a new file of size bytes and
// returns its path and its number as the block tracepoints give it
// (major << 20 | minor). It skips the test when no loop device can be
// made, and detaches the device when the test ends.
func loopDevice(t *testing.T, size int64) (string, uint64) {
	t.Helper()
	losetup, err := exec.LookPath("losetup")
	if err != nil {
		t.Skip("no losetup (util-linux) to make a loop device")
	}
	backing := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("cannot make a loop device: losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command(losetup, "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	// udev, where it runs, reads a new device to identify it: let it
	// finish before tracing starts.
	if udevadm, err := exec.LookPath("udevadm"); err == nil {
		exec.Command(udevadm, "settle").Run()
	}
	return dev, uint64(unix.Major(st.Rdev))<<20 | uint64(unix.Minor(st.Rdev))
}

// The lines of tracex3's text mode: the axis, or cells and their total.
var (
	heatmapAxis = output.HeatmapAxis()
	heatmapRow  = regexp.MustCompile(`^([ .:=+*#%@-]{72}) (\d+)$`)
	heatmapRows = regexp.MustCompile(`(?m)^[ .:=+*#%@-]{72} \d+$`)
)

// heatmapRun is an ebtrace drawing heatmap rows in the background.
type heatmapRun struct {
	cmd            *exec.Cmd
	stdout, stderr testutil.Buffer
}

func startHeatmap(t *testing.T, bin string, args ...string) *heatmapRun {
	t.Helper()
	r := &heatmapRun{cmd: exec.Command(bin, args...)}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill() })
	return r
}

// rows counts the rows drawn so far.
func (r *heatmapRun) rows() int { return len(heatmapRows.FindAllString(r.stdout.String(), -1)) }

// stop ends it with SIGINT and returns its lines.
func (r *heatmapRun) stop(t *testing.T) []string {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGINT)
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, r.stderr.String())
	}
	return strings.Split(strings.TrimSuffix(r.stdout.String(), "\n"), "\n")
}

// The block requests blockIO makes: dd writes and reads a block at a time
// with direct I/O, one request each.
const ddWrites, ddReads = 256, 128

// blockIO makes the requests just after each of runs has drawn a row,
// and returns once each has drawn two more: the second between two rows
// is theirs, so no row is drawn (no heatmap() and clear()) while they
// complete.
func blockIO(t *testing.T, dev string, runs ...*heatmapRun) {
	t.Helper()
	before := make([]int, len(runs))
	for _, r := range runs {
		waitFor(t, func() bool { return r.rows() > 0 })
	}
	for i, r := range runs {
		before[i] = r.rows()
	}
	for _, dd := range [][]string{
		{"if=/dev/zero", "of=" + dev, "bs=4k", "count=" + strconv.Itoa(ddWrites), "oflag=direct"},
		{"if=" + dev, "of=/dev/null", "bs=4k", "count=" + strconv.Itoa(ddReads), "iflag=direct"},
	} {
		if out, err := exec.Command("dd", dd...).CombinedOutput(); err != nil {
			t.Fatalf("dd %v: %v: %s", dd, err, out)
		}
	}
	for i, r := range runs {
		waitFor(t, func() bool { return r.rows() >= before[i]+2 })
	}
}

// countedTracex3 writes examples/2015/tracex3.bt with probes added that
// count the requests the kernel issues on device number, time them on
// their own and print, at the end, "issued N, LEAST to MOST ns".
func countedTracex3(t *testing.T, number uint64) string {
	t.Helper()
	example, err := os.ReadFile("../../examples/2015/tracex3.bt")
	if err != nil {
		t.Fatal(err)
	}
	counted := strings.ReplaceAll(`
tracepoint:block:block_rq_issue /args.dev == DEV/ { @issued = count(); @t[args.sector] = nsecs; }
tracepoint:block:block_rq_complete /args.dev == DEV && has_key(@t, args.sector)/ {
	@least = min(nsecs - @t[args.sector]);
	@most = max(nsecs - @t[args.sector]);
	delete(@t, args.sector);
}
END { printf("issued %d, %d to %d ns\n", @issued, @least, @most); }
`, "DEV", strconv.FormatUint(number, 10))
	script := filepath.Join(t.TempDir(), "tracex3.bt")
	if err := os.WriteFile(script, append(example, counted...), 0o600); err != nil {
		t.Fatal(err)
	}
	return script
}

// heatmapCells reads text-mode heatmap lines, the axis first: the sum of
// the rows' totals and the leftmost and rightmost shaded cells. It checks
// that every other line is a row, that every cell is whole (three
// columns of one shade), and that a row with requests has a cell shaded
// '@' and one without none shaded.
func heatmapCells(t *testing.T, lines []string) (total uint64, first, last int) {
	t.Helper()
	if len(lines) < 2 || lines[0] != heatmapAxis {
		t.Fatalf("want the axis and rows, got:\n%s", strings.Join(lines, "\n"))
	}
	first, last = output.HeatmapCells, -1
	for i, line := range lines[1:] {
		m := heatmapRow.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d is no heatmap row: %q", i+2, line)
			continue
		}
		n, _ := strconv.ParseUint(m[2], 10, 64)
		total += n
		cells := m[1]
		for c := 0; c < len(cells); c += 3 {
			if cells[c+1] != cells[c] || cells[c+2] != cells[c] {
				t.Errorf("line %d: cell %d is %q, not one shade", i+2, c/3, cells[c:c+3])
			}
		}
		if (n == 0) != (strings.TrimSpace(cells) == "") || n > 0 && !strings.Contains(cells, "@@@") {
			t.Errorf("line %d: %d requests drawn as %q", i+2, n, cells)
		}
		if shaded := strings.TrimRight(cells, " "); shaded != "" {
			first = min(first, (len(shaded)-len(strings.TrimLeft(shaded, " ")))/3)
			last = max(last, len(shaded)/3-1)
		}
	}
	return total, first, last
}

// TestTracex3 runs examples/2015/tracex3.bt in text mode on a loop device
// while dd makes requests on it (blockIO), with probes added that count
// the requests the kernel issued on the device and time them on their
// own (countedTracex3). The rows' totals add up to that count; the least
// and the greatest latency are on the axis, and the leftmost and
// rightmost shaded cells are theirs.
func TestTracex3(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	dev, number := loopDevice(t, 4<<20)
	bt := startHeatmap(t, bin, countedTracex3(t, number), "--", "--text", "--dev="+strconv.FormatUint(number, 10))
	blockIO(t, dev, bt)
	lines := bt.stop(t)
	var issued, least, most uint64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "issued %d, %d to %d ns", &issued, &least, &most); err != nil {
		t.Fatalf("last line %q is not the count of requests: %v", lines[len(lines)-1], err)
	}
	total, first, last := heatmapCells(t, lines[:len(lines)-1])
	if issued < ddWrites+ddReads {
		t.Errorf("the kernel issued %d requests on %s, dd made %d", issued, dev, ddWrites+ddReads)
	}
	if total != issued {
		t.Errorf("the rows count %d requests, the kernel issued %d:\n%s", total, issued, strings.Join(lines, "\n"))
	}
	if least < 1<<10 || most >= 1<<34 {
		t.Errorf("latencies from %d to %d ns, off the axis (1024 ns to 2^34 ns)", least, most)
	}
	// The added probes read the clock a moment apart from tracex3's: a
	// latency near a power of two may fall in the next cell.
	if cell := bits.Len64(least) - 11; first < cell-1 || first > cell+1 {
		t.Errorf("the leftmost shaded cell is %d, the least latency (%d ns) is in cell %d:\n%s", first, least, cell, strings.Join(lines, "\n"))
	}
	if cell := bits.Len64(most) - 11; last < cell-1 || last > cell+1 {
		t.Errorf("the rightmost shaded cell is %d, the greatest latency (%d ns) is in cell %d:\n%s", last, most, cell, strings.Join(lines, "\n"))
	}
}

// histRow matches a row of ebtrace run's --hist at exit, with its count.
var histRow = regexp.MustCompile(`^\[[^)]*\) +(\d+) \|`)

// TestTracex3C runs the C form, tracex3.bpf.o, under ebtrace run
// --heatmap -t, next to the script form on the same loop device's
// requests. The C form's rows add up to what its slot map holds at exit
// (shown by --hist), which is what the script's rows add up to and the
// number of requests the kernel issued.
func TestTracex3C(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	obj := testutil.BuildBPF(t, "../../examples/2015/tracex3.bpf.c")
	bin := testutil.Build(t, "./cmd/ebtrace")
	dev, number := loopDevice(t, 4<<20)
	n := strconv.FormatUint(number, 10)
	bt := startHeatmap(t, bin, countedTracex3(t, number), "--", "--text", "--dev="+n)
	c := startHeatmap(t, bin, "run", "--heatmap", "lat_slots", "--hist", "lat_slots", "-t", "--set", "targ_dev="+n, obj)
	blockIO(t, dev, bt, c)

	btLines := bt.stop(t)
	var issued uint64
	if _, err := fmt.Sscanf(btLines[len(btLines)-1], "issued %d,", &issued); err != nil {
		t.Fatalf("last line %q is not the count of requests: %v", btLines[len(btLines)-1], err)
	}
	btTotal, _, _ := heatmapCells(t, btLines[:len(btLines)-1])

	lines := c.stop(t)
	end := slices.IndexFunc(lines, func(l string) bool { return l == "" })
	if end < 0 {
		t.Fatalf("no map dump after the rows:\n%s", strings.Join(lines, "\n"))
	}
	rows, _, _ := heatmapCells(t, lines[:end])
	var slots uint64
	for _, l := range lines[end:] {
		if m := histRow.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			slots += n
		}
	}
	if rows != slots || slots != btTotal || btTotal != issued || issued < ddWrites+ddReads {
		t.Errorf("the C form's rows count %d requests, its slots %d; the script's rows %d; the kernel issued %d (dd made %d):\n%s",
			rows, slots, btTotal, issued, ddWrites+ddReads, strings.Join(lines, "\n"))
	}
}

// TestHeatmapFunction runs heatmap() in BEGIN on histograms of known
// values: ANSI greys by default, text when the second argument, folded
// when the script compiles, is true; a keyed map's rows in key order,
// each labelled; an empty one as a blank row; in JSON, each cell's count.
func TestHeatmapFunction(t *testing.T) {
	prog := `BEGIN {
	@h = hist(5000);
	@k["b"] = hist(1000000); @k["a"] = hist(1); @k["a"] = hist(3000000000);
	heatmap(@h); heatmap(@h, true); heatmap(@k, $# == 0); clear(@k); heatmap(@k);
	exit();
}`
	blank := func(cells int) string { return strings.Repeat("   ", cells) }
	runCLI(t, "-q", "-e", prog).want(t, 0, heatmapAxis+"\n"+
		blank(2)+"\x1b[48;5;255m   \x1b[0m"+blank(21)+" 1\n"+
		blank(2)+"@@@"+blank(21)+" 1\n"+
		"@@@"+blank(20)+"@@@"+blank(2)+" 2  @k[a]\n"+
		blank(9)+"@@@"+blank(14)+" 1  @k[b]\n"+
		blank(24)+" 0\n"+
		"\n\n@h:\n[4K, 8K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n\n")
	runCLI(t, "-q", "-f", "json", "-e", `BEGIN { @h = hist(5000); heatmap(@h); exit(); }`).want(t, 0,
		`{"type": "heatmap", "data": {"@h": {"cells": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "total": 1}}}
{"type": "hist", "data": {"@h": [{"min": 4096, "max": 8191, "count": 1}]}}
`)
}
