package kernel

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
)

// KernelSymbol is one line of /proc/kallsyms.
type KernelSymbol struct {
	Addr   uint64
	Type   byte   // nm-style: t/T for text, ...
	Name   string // without the module suffix
	Module string // "" for the core kernel image
}

// IsText reports whether the symbol is in a text section: a function.
func (s KernelSymbol) IsText() bool { return s.Type == 't' || s.Type == 'T' }

// Kallsyms returns the running kernel's symbols sorted by address. The
// file is read once per process: it does not change while ebtrace runs
// (modules loaded later are not seen). As root the addresses are real;
// otherwise the kernel shows zeros.
var Kallsyms = sync.OnceValues(func() ([]KernelSymbol, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	defer f.Close()
	return ParseKallsyms(f)
})

// ParseKallsyms parses the /proc/kallsyms format, "ADDR TYPE NAME
// [MODULE]" a line, and sorts the symbols by address (stable, so aliases
// keep file order). Malformed lines are errors.
func ParseKallsyms(r io.Reader) ([]KernelSymbol, error) {
	var syms []KernelSymbol
	sc := bufio.NewScanner(r)
	names := map[string]string{} // interned module names
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		fields := bytes.Fields(b)
		if len(fields) < 3 || len(fields) > 4 || len(fields[1]) != 1 {
			return nil, fmt.Errorf("kallsyms line %d: want ADDR TYPE NAME [MODULE], got %q", line, b)
		}
		addr, err := strconv.ParseUint(string(fields[0]), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("kallsyms line %d: %w", line, err)
		}
		s := KernelSymbol{Addr: addr, Type: fields[1][0], Name: string(fields[2])}
		if len(fields) == 4 {
			m := fields[3]
			if len(m) < 2 || m[0] != '[' || m[len(m)-1] != ']' {
				return nil, fmt.Errorf("kallsyms line %d: module %q is not in brackets", line, m)
			}
			mod, ok := names[string(m)]
			if !ok {
				mod = string(m[1 : len(m)-1])
				names[string(m)] = mod
			}
			s.Module = mod
		}
		syms = append(syms, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	slices.SortStableFunc(syms, func(a, b KernelSymbol) int {
		switch {
		case a.Addr < b.Addr:
			return -1
		case a.Addr > b.Addr:
			return 1
		}
		return 0
	})
	return syms, nil
}
