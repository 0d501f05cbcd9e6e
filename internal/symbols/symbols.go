// Package symbols owns turning addresses into names and back: the kernel's
// symbols from /proc/kallsyms, user symbols from ELF files (symbol tables, or
// a stripped Go binary's pclntab), and a process's mappings from
// /proc/PID/maps with each mapping's load bias. Tables are built once and
// cached and keep the names the files have; Lookup shows C++ functions by
// their demangled names, as bpftrace does (see Demangle).
package symbols

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Symbol is one function: its name, start address and size in bytes. Size
// 0 means unknown, and the symbol then extends to the next one.
type Symbol struct {
	Name string
	Addr uint64
	Size uint64
}

// Table is a set of symbols sorted by address.
type Table struct {
	// syms is sorted by address; among symbols at one address the one
	// Lookup should name comes first.
	syms []Symbol
	segs []segment // an ELF file's loadable segments, for Process
	// demangled caches, by index in syms, the names Lookup has
	// demangled: a table is shared by every process mapping its file,
	// and a stack names the same functions again and again.
	demangled sync.Map
}

// candidate is a symbol while a table is built: rank orders symbols that
// share an address (lower is preferred), then the order they were found.
type candidate struct {
	Symbol
	rank int
}

// newTable sorts the candidates (kallsyms comes sorted already). Identical name and address pairs (a symbol in
// both .symtab and .dynsym) are kept once.
func newTable(cands []candidate) *Table {
	order := func(a, b candidate) int {
		if c := cmp.Compare(a.Addr, b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(a.rank, b.rank)
	}
	if !slices.IsSortedFunc(cands, order) {
		slices.SortStableFunc(cands, order)
	}
	t := &Table{syms: make([]Symbol, 0, len(cands))}
	run := 0 // where the symbols at the current address start in t.syms
	for _, c := range cands {
		if run < len(t.syms) && t.syms[run].Addr != c.Addr {
			run = len(t.syms)
		}
		if slices.ContainsFunc(t.syms[run:], func(s Symbol) bool { return s.Name == c.Name }) {
			continue
		}
		t.syms = append(t.syms, c.Symbol)
	}
	return t
}

// Lookup returns the symbol containing addr: the nearest symbol at or below
// it, provided addr lies within its size when the size is known. A C++
// function is named as Demangle shows it.
func (t *Table) Lookup(addr uint64) (Symbol, bool) {
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].Addr > addr }) - 1
	if i < 0 {
		return Symbol{}, false
	}
	// Step back to the preferred symbol of those at this address.
	for i > 0 && t.syms[i-1].Addr == t.syms[i].Addr {
		i--
	}
	s := t.syms[i]
	if s.Size != 0 && addr-s.Addr >= s.Size {
		return Symbol{}, false
	}
	s.Name = t.display(i)
	return s, true
}

// display returns the name Lookup shows for syms[i], demangling it once.
func (t *Table) display(i int) string {
	name := t.syms[i].Name
	if !mangled(name) {
		return name
	}
	if d, ok := t.demangled.Load(i); ok {
		return d.(string)
	}
	d := Demangle(name)
	t.demangled.Store(i, d)
	return d
}

// Symbols returns every symbol, sorted by address. The caller must not
// modify the slice.
func (t *Table) Symbols() []Symbol { return t.syms }

// Format returns a stack frame as bpftrace prints it: "name+offset", the
// offset in decimal and shown even when it is 0.
func Format(name string, off uint64) string { return fmt.Sprintf("%s+%d", name, off) }

// Unknown returns how bpftrace prints an address with no symbol: in hex
// with a 0x prefix, except 0, which is "0".
func Unknown(addr uint64) string {
	if addr == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", addr)
}
