package kernel

import (
	"embed"
	"io/fs"
)

// testdata holds real format files copied from a 6.18 kernel's tracefs.
//
//go:embed testdata/tracefs
var testdata embed.FS

// Fake returns Events over a small embedded tracefs tree of real format
// files (syscalls, sched, raw_syscalls and task events), for tests in any
// package. Each call returns a fresh, uncached Events.
func Fake() *Events {
	tree, err := fs.Sub(testdata, "testdata/tracefs")
	if err != nil {
		panic(err)
	}
	return NewEvents(tree)
}
