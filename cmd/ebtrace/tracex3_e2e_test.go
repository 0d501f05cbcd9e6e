package main

import (
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"ebtrace/internal/testutil"
	"ebtrace/output"
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

// TestTracex3 runs examples/2015/tracex3.bt in text mode on a loop device
// while dd writes and reads it with direct I/O, one request per block.
// Probes added to the script count the requests the kernel issued on the
// device and time them on their own. The rows' totals add up to that
// count; every row's cells are whole (three columns of one shade), the
// busiest shaded '@'; the least and the greatest latency are on the axis,
// and the leftmost and rightmost shaded cells are theirs.
func TestTracex3(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	dev, number := loopDevice(t, 4<<20)
	example, err := os.ReadFile("../../examples/2015/tracex3.bt")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "tracex3.bt")
	counted := strings.ReplaceAll(`
tracepoint:block:block_rq_issue /args.dev == DEV/ { @issued = count(); @t[args.sector] = nsecs; }
tracepoint:block:block_rq_complete /args.dev == DEV && has_key(@t, args.sector)/ {
	@least = min(nsecs - @t[args.sector]);
	@most = max(nsecs - @t[args.sector]);
	delete(@t, args.sector);
}
END { printf("issued %d, %d to %d ns\n", @issued, @least, @most); }
`, "DEV", strconv.FormatUint(number, 10))
	if err := os.WriteFile(script, append(example, counted...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, script, "--", "--text", "--dev="+strconv.FormatUint(number, 10))
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	rows := func() int { return len(heatmapRows.FindAllString(stdout.String(), -1)) }
	// Requests start just after a row: the second until the next one is
	// theirs, so heatmap() and clear() do not run while they complete.
	waitFor(t, func() bool { return strings.Count(stdout.String(), "\n") >= 2 })
	before := rows()
	const writes, reads = 256, 128
	for _, dd := range [][]string{
		{"if=/dev/zero", "of=" + dev, "bs=4k", "count=" + strconv.Itoa(writes), "oflag=direct"},
		{"if=" + dev, "of=/dev/null", "bs=4k", "count=" + strconv.Itoa(reads), "iflag=direct"},
	} {
		if out, err := exec.Command("dd", dd...).CombinedOutput(); err != nil {
			t.Fatalf("dd %v: %v: %s", dd, err, out)
		}
	}
	waitFor(t, func() bool { return rows() >= before+2 })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}

	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) < 4 || lines[0] != heatmapAxis {
		t.Fatalf("want the axis, rows and the count, got:\n%s", stdout.String())
	}
	var issued, least, most uint64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "issued %d, %d to %d ns", &issued, &least, &most); err != nil {
		t.Fatalf("last line %q is not the count of requests: %v", lines[len(lines)-1], err)
	}
	var total uint64
	busy, first, last := 0, output.HeatmapCells, -1
	for i, line := range lines[1 : len(lines)-1] {
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
		if n > 0 {
			busy++
		}
	}
	if issued < writes+reads {
		t.Errorf("the kernel issued %d requests on %s, dd made %d", issued, dev, writes+reads)
	}
	if total != issued || busy == 0 {
		t.Errorf("the rows count %d requests (%d rows with any), the kernel issued %d:\n%s", total, busy, issued, stdout.String())
	}
	if least < 1<<10 || most >= 1<<34 {
		t.Errorf("latencies from %d to %d ns, off the axis (1024 ns to 2^34 ns)", least, most)
	}
	// The added probes read the clock a moment apart from tracex3's: a
	// latency near a power of two may fall in the next cell.
	if cell := bits.Len64(least) - 11; first < cell-1 || first > cell+1 {
		t.Errorf("the leftmost shaded cell is %d, the least latency (%d ns) is in cell %d:\n%s", first, least, cell, stdout.String())
	}
	if cell := bits.Len64(most) - 11; last < cell-1 || last > cell+1 {
		t.Errorf("the rightmost shaded cell is %d, the greatest latency (%d ns) is in cell %d:\n%s", last, most, cell, stdout.String())
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
	ebtrace(t, "-q", "-e", prog).want(t, 0, heatmapAxis+"\n"+
		blank(2)+"\x1b[48;5;255m   \x1b[0m"+blank(21)+" 1\n"+
		blank(2)+"@@@"+blank(21)+" 1\n"+
		"@@@"+blank(20)+"@@@"+blank(2)+" 2  @k[a]\n"+
		blank(9)+"@@@"+blank(14)+" 1  @k[b]\n"+
		blank(24)+" 0\n"+
		"\n\n@h:\n[4K, 8K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n\n")
	ebtrace(t, "-q", "-f", "json", "-e", `BEGIN { @h = hist(5000); heatmap(@h); exit(); }`).want(t, 0,
		`{"type": "heatmap", "data": {"@h": {"cells": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "total": 1}}}
{"type": "hist", "data": {"@h": [{"min": 4096, "max": 8191, "count": 1}]}}
`)
}
