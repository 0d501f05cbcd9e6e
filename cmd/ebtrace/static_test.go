package main

import (
	"debug/elf"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestStaticBinary builds ebtrace as the README says (CGO_ENABLED=0 go
// build) and fails if the ELF asks for a dynamic loader or a shared
// library: ebtrace must run on a machine with no libc, or another one. A
// dependency that needs cgo fails the build itself. (With cgo left on, the
// standard library's net package, which ebtrace serve needs, would link
// libc for its DNS resolver.)
func TestStaticBinary(t *testing.T) {
	f, err := elf.Open(testutil.Build(t, "./cmd/ebtrace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("ebtrace has a %v program header: it is dynamically linked", p.Type)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("ebtrace needs shared libraries (DT_NEEDED): %v", libs)
	}
}
