package main

import (
	"debug/elf"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestStaticBinary builds ebtrace as a user would (plain go build, cgo
// left at its default) and fails if the ELF asks for a dynamic loader or a
// shared library: ebtrace must run on a machine with no libc, or another
// one. Importing package net or os/user is the usual way cgo creeps in.
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
