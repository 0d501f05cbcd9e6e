package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestRecordParityUserPointer records the workload's opens with filters on
// sys_enter_openat's filename, a char * into user memory, while a tracefs
// instance holds the same filter, and compares the pointers each kept.
// With .ustring both read the user's string; without it, kernel builds
// differ (some read it, some make the predicate false), and ebtrace must
// keep whatever the running kernel's filter keeps.
func TestRecordParityUserPointer(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_openat")
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "uptr")
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"rec-1", "rec-2", "rec-3", "other"} {
		files = append(files, filepath.Join(dir, name))
		if err := os.WriteFile(files[len(files)-1], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	instance, write := instanceEvent(t, comm, "syscalls/sys_enter_openat")
	command := wl + " open " + strings.Join(files, " ")
	for _, tc := range []struct {
		expr string
		kept int // -1: as many as the kernel keeps, which its build decides
	}{
		{`filename.ustring ~ "*rec-*"`, 3},
		{`filename.ustring ~ "*/other" || flags & 64`, 1},
		{`filename ~ "*rec-*"`, -1},
		{`filename != "x" && filename ~ "*/rec-[12]"`, -1},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			os.WriteFile(filepath.Join(instance, "trace"), nil, 0o644) // clears it
			write("filter", fmt.Sprintf("(%s) && comm == %q", tc.expr, comm))
			write("enable", "1")
			r := runCLI(t, "record", "-e", "syscalls:sys_enter_openat", "--filter", tc.expr, "-c", command)
			write("enable", "0")
			write("filter", "0")
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			ours := regexp.MustCompile(`filename=0x([0-9a-f]+) `).FindAllStringSubmatch(r.stdout, -1)
			trace, err := os.ReadFile(filepath.Join(instance, "trace"))
			if err != nil {
				t.Fatal(err)
			}
			kernels := regexp.MustCompile(`sys_openat\(.*filename: 0x([0-9a-f]+),`).FindAllStringSubmatch(string(trace), -1)
			pointers := func(ms [][]string) []string {
				var out []string
				for _, m := range ms {
					out = append(out, m[1])
				}
				slices.Sort(out)
				return out
			}
			if !slices.Equal(pointers(ours), pointers(kernels)) {
				t.Fatalf("ebtrace kept %v\nthe kernel's filter kept %v\n%s", pointers(ours), pointers(kernels), trace)
			}
			if tc.kept >= 0 && len(ours) != tc.kept {
				t.Fatalf("both kept %d opens, want %d", len(ours), tc.kept)
			}
			t.Logf("%q: both kept %d opens", tc.expr, len(ours))
		})
	}
}
