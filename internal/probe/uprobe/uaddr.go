package uprobe

import (
	"debug/elf"
	"fmt"
	"os"
	"strings"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/symbols"
)

// UserAddr implements probe.UserSymbols.
func (i *instance) UserAddr(name string) (addr, size uint64, err error) {
	return SymbolAddr(i.path, i.pid, name)
}

// SymbolAddr returns the address of symbol name of the binary at path in
// the process that runs it, and the symbol's size, for uaddr(). A
// position-dependent executable's symbols are where its symbol table says.
// A position-independent one (a PIE or a library) moves each run: with -p
// the address is found through that process's mappings, without it the
// result would be wrong, so it is an error.
func SymbolAddr(path string, pid int, name string) (addr, size uint64, err error) {
	bin, err := Open(path, pid)
	if err != nil {
		return 0, 0, err
	}
	defer bin.Close()
	if _, err := bin.allSymbols(); err != nil {
		return 0, 0, err
	}
	sym, ok := bin.symbol(name)
	if !ok {
		e := &probe.Error{Msg: fmt.Sprintf("uaddr(%q): %s defines no symbol %s", name, bin.Path, name)}
		e.Suggest(name, bin.symbolNames())
		return 0, 0, e
	}
	if bin.Type == elf.ET_EXEC {
		return sym.Value, sym.Size, nil
	}
	if pid == 0 {
		return 0, 0, &probe.Error{
			Msg:   fmt.Sprintf("uaddr(%q): %s is position-independent, so where %s lives changes with each run", name, bin.Path, name),
			Hints: []string{"trace one running process with -p PID: its mappings say where"},
		}
	}
	off, err := bin.FileOffset(sym.Value)
	if err != nil {
		return 0, 0, err
	}
	addr, err = mappedAt(pid, bin.Path, off)
	if err != nil {
		return 0, 0, fmt.Errorf("uaddr(%q): %w", name, err)
	}
	return addr, sym.Size, nil
}

// symbol finds name among the defined symbols of .symtab and .dynsym.
func (b *Binary) symbol(name string) (elf.Symbol, bool) {
	all, _ := b.allSymbols()
	for _, s := range all {
		if s.Name == name && s.Section != elf.SHN_UNDEF {
			return s, true
		}
	}
	return elf.Symbol{}, false
}

// symbolNames lists the names of the binary's variables and functions,
// for close-match hints.
func (b *Binary) symbolNames() []string {
	all, _ := b.allSymbols()
	var names []string
	for _, s := range all {
		if t := elf.ST_TYPE(s.Info); s.Section != elf.SHN_UNDEF && (t == elf.STT_OBJECT || t == elf.STT_FUNC) {
			names = append(names, s.Name)
		}
	}
	return names
}

// mappedAt returns the address where process pid maps offset off of the
// file at path.
func mappedAt(pid int, path string, off uint64) (uint64, error) {
	want, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	maps, err := symbols.Mappings(pid)
	if err != nil {
		return 0, err
	}
	for _, m := range maps {
		if off < m.Off || off-m.Off >= m.End-m.Start || !strings.HasPrefix(m.Path, "/") {
			continue
		}
		if got, err := os.Stat(m.Path); err == nil && os.SameFile(got, want) {
			return m.Start + off - m.Off, nil
		}
	}
	return 0, fmt.Errorf("process %d does not map the part of %s that holds it", pid, path)
}
