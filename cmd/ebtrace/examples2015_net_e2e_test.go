package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ebtrace/internal/testutil"
)

// The network samples of examples/2015 (tracex1, tracex2, dropmon), each
// as a script and as a BPF C program run by `ebtrace run`, against the
// workload's UDP traffic on loopback: udp sends datagrams to a socket of
// its own, udpdrop to a port no socket holds, and the kernel drops those
// in __udp4_lib_rcv for want of a socket. The scripts and programs see the
// whole system, so the assertions pick out the workload's packets by their
// length or its drops by their place, and count at least as many drops as
// it caused where another program could cause more.

const (
	examples2015 = "../../examples/2015/"
	// udpPackets datagrams of udpPayload bytes; lo's receive path reports
	// each as udpLen bytes: the payload after 20 bytes of IP header and 8
	// of UDP (the Ethernet header is already gone).
	udpPackets = 20
	udpPayload = 1111
	udpLen     = udpPayload + 28
	// dropSite is the function that drops a UDP datagram sent to a port
	// without a socket, with the reason SKB_DROP_REASON_NO_SOCKET.
	dropSite = "__udp4_lib_rcv"
)

// writeSizeHist is the write(2) size histogram of `workload write 256
// 511`: one write of each size, all in one power-of-two bucket.
const writeSizeHist = `@write_size:
[256, 512)           256 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
`

var (
	tracex1Line = regexp.MustCompile(`^skb 0x[0-9a-f]+ len (\d+)$`)
	// A bpf_printk line as ebtrace run prints it: comm-PID [CPU] flags
	// timestamp: message.
	printkLine = regexp.MustCompile(`^.+-\d+ +\[\d+\] \S+ +\d+\.\d+: (.*)$`)
	mapLine    = regexp.MustCompile(`^@(\w+)\[(\w+)\]: (\d+)$`)
)

// nonEmpty returns the lines of s that are not empty.
func nonEmpty(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// countLen checks that every line is a tracex1 line (after strip, which
// returns a line's message and whether it is one) and returns how many
// report a packet of udpLen bytes.
func countLen(t *testing.T, lines []string, strip func(string) (string, bool)) int {
	t.Helper()
	n := 0
	for _, line := range lines {
		msg, ok := strip(line)
		m := tracex1Line.FindStringSubmatch(msg)
		if !ok || m == nil {
			t.Errorf("line %q is not a tracex1 line", line)
			continue
		}
		if m[1] == strconv.Itoa(udpLen) {
			n++
		}
	}
	return n
}

func TestExample2015Tracex1(t *testing.T) {
	wl := testutil.Workload(t)
	r := ebtrace(t, "-c", fmt.Sprintf("%s udp %d %d", wl, udpPackets, udpPayload), examples2015+"tracex1.bt")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	asIs := func(line string) (string, bool) { return line, true }
	if n := countLen(t, nonEmpty(r.stdout), asIs); n != udpPackets {
		t.Errorf("%d lines of packets of %d bytes, want %d:\n%s", n, udpLen, udpPackets, r.stdout)
	}
}

// histBlock returns the histogram of map name in out, from its heading to
// the blank line after it.
func histBlock(out, name string) string {
	i := strings.Index(out, "@"+name+":\n")
	if i < 0 {
		return ""
	}
	block, _, _ := strings.Cut(out[i:], "\n\n")
	return block + "\n"
}

// mapCounts returns the values of the lines @name[KEY]: VALUE in out by
// key.
func mapCounts(t *testing.T, out, name string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, line := range nonEmpty(out) {
		m := mapLine.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		n, err := strconv.Atoi(m[3])
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		counts[m[2]] = n
	}
	return counts
}

func TestExample2015Tracex2(t *testing.T) {
	wl := testutil.Workload(t)
	// -c restricts the histogram to the command's writes.
	r := ebtrace(t, "-c", wl+" write 256 511", examples2015+"tracex2.bt")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if got := histBlock(r.stdout, "write_size"); got != writeSizeHist {
		t.Errorf("write sizes of the workload:\n%s\nwant:\n%s", got, writeSizeHist)
	}
	r = ebtrace(t, "-c", fmt.Sprintf("%s udpdrop %d 100", wl, udpPackets), examples2015+"tracex2.bt")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if n := mapCounts(t, r.stdout, "kfree_skb")[dropSite]; n < udpPackets {
		t.Errorf("@kfree_skb[%s] is %d, want at least %d:\n%s", dropSite, n, udpPackets, r.stdout)
	}
	if strings.Contains(r.stdout, "@write_size") {
		t.Errorf("the workload wrote nothing, yet:\n%s", r.stdout)
	}
}

// dropmonLine is a line of the dropmon script's tables: the function, the
// reason and the count.
var dropmonLine = regexp.MustCompile(`^  (\S+) +(\S+) +(\d+)$`)

// dropmonTables parses the dropmon script's output: the count of drops at
// dropSite for want of a socket in each table printed every second, in
// order, and in the table of totals at exit.
func dropmonTables(t *testing.T, out string) (perSecond []int, total int) {
	t.Helper()
	heading := regexp.MustCompile(`^\d\d:\d\d:\d\d drops so far:$`)
	inTotal := false
	for _, line := range nonEmpty(out) {
		switch m := dropmonLine.FindStringSubmatch(line); {
		case heading.MatchString(line):
			if inTotal {
				t.Errorf("a table after the totals: %q", line)
			}
			perSecond = append(perSecond, 0)
		case line == "total drops:":
			inTotal = true
		case m == nil:
			t.Errorf("line %q is not a dropmon line", line)
		case len(perSecond) == 0 && !inTotal:
			t.Errorf("line %q comes before any heading", line)
		case m[1] == dropSite && m[2] == "SKB_DROP_REASON_NO_SOCKET":
			n, _ := strconv.Atoi(m[3])
			if inTotal {
				total = n
			} else {
				perSecond[len(perSecond)-1] = n
			}
		}
	}
	if !inTotal {
		t.Errorf("no totals:\n%s", out)
	}
	return perSecond, total
}

// background is an ebtrace run in the background, its output collected.
type background struct {
	cmd         *exec.Cmd
	out, stderr *syncBuffer
}

// startBackground starts ebtrace with args and waits until it says it has
// attached its probes.
func startBackground(t *testing.T, bin string, args ...string) *background {
	t.Helper()
	b := &background{cmd: exec.Command(bin, args...), out: &syncBuffer{}, stderr: &syncBuffer{}}
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cmd.Process.Kill() })
	waitFor(t, func() bool { return strings.Contains(strings.ToLower(b.stderr.String()), "attached") })
	return b
}

// stop ends the run with SIGINT and returns its standard output.
func (b *background) stop(t *testing.T) string {
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGINT)
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, b.stderr.String())
	}
	return b.out.String()
}

// dropWorkload makes the workload's drops and waits until a table printed
// every second has had time to show them.
func dropWorkload(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(testutil.Workload(t), "udpdrop", strconv.Itoa(udpPackets), "100").CombinedOutput(); err != nil {
		t.Fatalf("workload udpdrop: %v: %s", err, out)
	}
	time.Sleep(1500 * time.Millisecond)
}

func TestExample2015Dropmon(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	script := startBackground(t, testutil.Build(t, "./cmd/ebtrace"), examples2015+"dropmon.bt")
	dropWorkload(t)
	perSecond, total := dropmonTables(t, script.stop(t))
	if len(perSecond) == 0 || perSecond[len(perSecond)-1] < udpPackets {
		t.Errorf("drops at %s in the tables printed every second: %v, want the last at least %d", dropSite, perSecond, udpPackets)
	}
	if total < udpPackets || len(perSecond) > 0 && total < perSecond[len(perSecond)-1] {
		t.Errorf("%d drops at %s in total, want at least %d and no fewer than the last table's %v", total, dropSite, udpPackets, perSecond)
	}
}
