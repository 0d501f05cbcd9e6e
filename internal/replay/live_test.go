package replay

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadProc resolves threads as tracefs and procfs trees made here
// describe them: a thread /proc still knows, one it forgot that tracefs
// noted (a short-lived command's thread that wrote and exited before
// its events were read), and one neither knows.
func TestReadProc(t *testing.T) {
	procRoot, traceRoot := t.TempDir(), t.TempDir()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(procRoot, "4300", "comm"), "alive\n")
	write(filepath.Join(procRoot, "4300", "status"), "Name:\talive\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4299\nNgid:\t0\nPid:\t4300\n")
	// saved_tgids's entry of 4300 is an older thread's: /proc's wins.
	write(filepath.Join(traceRoot, "saved_tgids"), "42420 1\n4300 1\n4242 4200\n")
	write(filepath.Join(traceRoot, "saved_cmdlines"), "42420 other\n4242 wl-thread\n")
	for _, c := range []struct {
		tid  int
		want proc
	}{
		{4300, proc{tgid: 4299, comm: "alive"}},
		{4242, proc{tgid: 4200, comm: "wl-thread"}},
		{77, proc{tgid: 77}},
	} {
		if got := readProc(procRoot, traceRoot, c.tid); got != c.want {
			t.Errorf("thread %d: %+v, want %+v", c.tid, got, c.want)
		}
	}
}
