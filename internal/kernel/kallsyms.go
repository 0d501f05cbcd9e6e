package kernel

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
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
// keep file order). Malformed lines are errors. The names are slices of
// one copy of the text: the file has over 100,000 lines, and a string
// each would be most of the parsing time.
func ParseKallsyms(r io.Reader) ([]KernelSymbol, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	text := string(data)
	syms := make([]KernelSymbol, 0, strings.Count(text, "\n")+1)
	for line := 1; text != ""; line++ {
		var b string
		b, text, _ = strings.Cut(text, "\n")
		if b == "" {
			continue
		}
		var buf [5]string
		fields := fieldsInto(b, buf[:0])
		if len(fields) < 3 || len(fields) > 4 || len(fields[1]) != 1 {
			return nil, fmt.Errorf("kallsyms line %d: want ADDR TYPE NAME [MODULE], got %q", line, b)
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("kallsyms line %d: %w", line, err)
		}
		s := KernelSymbol{Addr: addr, Type: fields[1][0], Name: fields[2]}
		if len(fields) == 4 {
			m := fields[3]
			if len(m) < 2 || m[0] != '[' || m[len(m)-1] != ']' {
				return nil, fmt.Errorf("kallsyms line %d: module %q is not in brackets", line, m)
			}
			s.Module = m[1 : len(m)-1]
		}
		syms = append(syms, s)
	}
	byAddr := func(a, b KernelSymbol) int { return cmp.Compare(a.Addr, b.Addr) }
	if !slices.IsSortedFunc(syms, byAddr) {
		slices.SortStableFunc(syms, byAddr)
	}
	return syms, nil
}

// fieldsInto appends the space- or tab-separated fields of line to out, at
// most cap(out) of them (the rest are dropped), without allocating.
func fieldsInto(line string, out []string) []string {
	for line != "" && len(out) < cap(out) {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			break
		}
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		out = append(out, line[:end])
		line = line[end:]
	}
	return out
}
