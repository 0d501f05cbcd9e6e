package main

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestStaticBinary builds ebtrace as a user would (plain go build, cgo
// left at its default) and as the tests do (CGO_ENABLED=0, with ebtrace
// serve), and fails if either ELF asks for a dynamic loader or a shared
// library: ebtrace must run on a machine with no libc, or another one.
// Importing package net or os/user is the usual way cgo creeps in.
func TestStaticBinary(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "ebtrace")
	build := exec.Command("go", "build", "-o", plain, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, bin := range []string{plain, testutil.Build(t, "./cmd/ebtrace")} {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s has a %v program header: it is dynamically linked", bin, p.Type)
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			t.Fatal(err)
		}
		if len(libs) > 0 {
			t.Errorf("%s needs shared libraries (DT_NEEDED): %v", bin, libs)
		}
		f.Close()
	}
}
