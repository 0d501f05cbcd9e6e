package kprobe

import (
	"bufio"
	"cmp"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// function is one kernel function by name, as kprobes name it.
type function struct {
	Name   string
	Module string // "" for the core kernel image
	Addr   uint64
	// Size is the distance to the next symbol, 0 when unknown: the bound
	// for +OFFSET.
	Size uint64
	// Blocked is set for code the kernel refuses to kprobe (entry, kprobes,
	// noinstr and freed init text), cold parts and section markers.
	Blocked bool
}

// table indexes the kernel's functions for expansion and listing.
type table struct {
	// all holds every text symbol but padding, sorted by name, then
	// module (the core kernel first), then address.
	all []function
	// listed are the functions wildcards and -l see, sorted by name then
	// module, each once: available_filter_functions when readable, else
	// the text symbols that are not blocked.
	listed []function
	// traceable, when listed is available_filter_functions, returns the
	// addresses of the functions it lists, found on first use: a function
	// at none of them (notrace, or inlined into every caller) has no
	// ftrace location, and the kernel refuses kprobes on it. An alias at a
	// listed address (__x64_sys_getppid where __do_sys_getppid is listed)
	// is fine.
	traceable func() map[uint64]bool
}

// blockedRanges are the marker symbols around text the kernel never
// kprobes (kernel/kprobes.c and arch blacklists).
var blockedRanges = [][2]string{
	{"__kprobes_text_start", "__kprobes_text_end"},
	{"__entry_text_start", "__entry_text_end"},
	{"__irqentry_text_start", "__irqentry_text_end"},
	{"__noinstr_text_start", "__noinstr_text_end"},
	{"_sinittext", "_einittext"}, // freed after boot
}

// addrRange is a half-open range of kernel addresses.
type addrRange struct{ start, end uint64 }

// newTable builds the index from symbols sorted by address (as
// kernel.Kallsyms returns them), the kernel's kprobe blacklist and, when
// non-nil, the names in available_filter_functions.
func newTable(syms []kernel.KernelSymbol, blacklist []addrRange, filterFuncs []function) *table {
	markers := map[string]uint64{}
	for _, r := range blockedRanges {
		markers[r[0]], markers[r[1]] = 0, 0
	}
	for _, s := range syms {
		if _, ok := markers[s.Name]; ok && s.Module == "" {
			markers[s.Name] = s.Addr
		}
	}
	blocked := slices.Clone(blacklist)
	for _, r := range blockedRanges {
		if start, end := markers[r[0]], markers[r[1]]; start < end {
			blocked = append(blocked, addrRange{start, end})
		}
	}
	blocked = merge(blocked)
	t := &table{all: make([]function, 0, len(syms)/2)}
	for i, s := range syms {
		// __pfx_ symbols are the padding before each function.
		if !s.IsText() || strings.HasPrefix(s.Name, "__pfx_") {
			continue
		}
		f := function{Name: s.Name, Module: s.Module, Addr: s.Addr}
		for _, next := range syms[i+1:] {
			if next.Addr > s.Addr {
				f.Size = next.Addr - s.Addr
				break
			}
		}
		f.Blocked = strings.Contains(s.Name, ".cold") || isMarker(s.Name) || within(blocked, s.Addr)
		t.all = append(t.all, f)
	}
	slices.SortFunc(t.all, func(a, b function) int {
		if c := byNameModule(a, b); c != 0 {
			return c
		}
		return cmp.Compare(a.Addr, b.Addr)
	})
	if filterFuncs != nil {
		t.traceable = sync.OnceValue(func() map[uint64]bool {
			addrs := map[uint64]bool{}
			for _, f := range t.listed {
				for _, s := range t.named(f.Name) {
					if s.Module == f.Module {
						addrs[s.Addr] = true
					}
				}
			}
			return addrs
		})
		t.listed = slices.Clone(filterFuncs)
		slices.SortFunc(t.listed, byNameModule)
	} else {
		for _, f := range t.all {
			if !f.Blocked {
				t.listed = append(t.listed, f)
			}
		}
	}
	t.listed = slices.CompactFunc(t.listed, func(a, b function) bool { return byNameModule(a, b) == 0 })
	return t
}

func byNameModule(a, b function) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Module, b.Module)
}

// isMarker reports whether name labels a section boundary rather than a
// function: _stext, __entry_text_end and the like.
func isMarker(name string) bool {
	switch name {
	case "_text", "_stext", "_etext", "_sinittext", "_einittext":
		return true
	}
	return strings.HasSuffix(name, "_text_start") || strings.HasSuffix(name, "_text_end")
}

// merge sorts ranges and joins those that overlap or touch.
func merge(ranges []addrRange) []addrRange {
	slices.SortFunc(ranges, func(a, b addrRange) int { return cmp.Compare(a.start, b.start) })
	var out []addrRange
	for _, r := range ranges {
		if n := len(out); n > 0 && r.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, r.end)
			continue
		}
		out = append(out, r)
	}
	return out
}

// within reports whether addr lies in one of the merged ranges.
func within(ranges []addrRange, addr uint64) bool {
	i, _ := slices.BinarySearchFunc(ranges, addr, func(r addrRange, a uint64) int { return cmp.Compare(r.start, a) })
	// ranges[i-1] is the last range starting at or before addr, unless
	// ranges[i] starts exactly at addr.
	if i < len(ranges) && ranges[i].start == addr {
		return true
	}
	return i > 0 && addr < ranges[i-1].end
}

// lookup returns the function name in module ("" for any, "vmlinux" for
// the core kernel): the first by address when static functions share it.
func (t *table) lookup(module, name string) (function, bool) {
	for _, f := range t.named(name) {
		if inModule(f, module) {
			return f, true
		}
	}
	return function{}, false
}

// named returns the text symbols called name, of every module.
func (t *table) named(name string) []function {
	i, _ := slices.BinarySearchFunc(t.all, name, func(f function, name string) int { return cmp.Compare(f.Name, name) })
	j := i
	for j < len(t.all) && t.all[j].Name == name {
		j++
	}
	return t.all[i:j]
}

// untraceable reports whether the kernel refuses kprobes on f, at no
// address available_filter_functions lists.
func (t *table) untraceable(f function) bool {
	return t.traceable != nil && !t.traceable()[f.Addr]
}

// match returns the listed functions whose name and module match the
// wildcard patterns.
func (t *table) match(modulePattern, namePattern string) []function {
	var out []function
	for _, f := range t.listed {
		if glob.Match(namePattern, f.Name) && inModule(f, modulePattern) {
			out = append(out, f)
		}
	}
	return out
}

// inModule reports whether f lies in the modules pattern names: "" is any,
// "vmlinux" the core kernel.
func inModule(f function, pattern string) bool {
	switch {
	case pattern == "":
		return true
	case f.Module == "":
		return glob.Match(pattern, "vmlinux")
	}
	return glob.Match(pattern, f.Module)
}

// names returns the names of the functions kprobes may attach to, for
// "did you mean".
func (t *table) names() []string {
	var out []string
	for _, f := range t.all {
		if !f.Blocked && (len(out) == 0 || out[len(out)-1] != f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// liveTable is the running kernel's table, built once per process.
var liveTable = sync.OnceValues(func() (*table, error) {
	syms, err := kernel.Kallsyms()
	if err != nil {
		return nil, err
	}
	return newTable(syms, readBlacklist(), readFilterFunctions()), nil
})

// tableFor returns the table of env's kernel symbols: the running
// kernel's unless a test replaced them, in which case nothing else of the
// running kernel is read either.
func tableFor(env *probe.Env) (*table, error) {
	if env == nil || env.Kallsyms == nil {
		return liveTable()
	}
	syms, err := env.Kallsyms()
	if err != nil {
		return nil, err
	}
	return newTable(syms, nil, nil), nil
}

// readFilterFunctions returns the functions ftrace can trace, or nil when
// the file is unreadable (as under lockdown, even for root).
func readFilterFunctions() []function {
	for _, dir := range kernel.TracefsDirs {
		f, err := os.Open(dir + "/available_filter_functions")
		if err != nil {
			continue
		}
		defer f.Close()
		funcs, err := parseFilterFunctions(f)
		if err != nil {
			return nil
		}
		return funcs
	}
	return nil
}

// parseFilterFunctions parses available_filter_functions: "NAME" or
// "NAME [MODULE]" a line.
func parseFilterFunctions(r io.Reader) ([]function, error) {
	funcs := []function{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "__pfx_") {
			continue
		}
		f := function{Name: fields[0]}
		if len(fields) > 1 {
			f.Module = strings.Trim(fields[1], "[]")
		}
		funcs = append(funcs, f)
	}
	return funcs, sc.Err()
}

// readBlacklist returns the ranges in the kernel's kprobe blacklist, which
// debugfs shows when mounted; nil otherwise.
func readBlacklist() []addrRange {
	f, err := os.Open("/sys/kernel/debug/kprobes/blacklist")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseBlacklist(f)
}

// parseBlacklist parses "0xSTART-0xEND\tSYMBOL" lines, skipping lines it
// cannot read (addresses are zero without privileges).
func parseBlacklist(r io.Reader) []addrRange {
	var out []addrRange
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 0, 64)
		end, err2 := strconv.ParseUint(hi, 0, 64)
		if ok && err1 == nil && err2 == nil && start < end {
			out = append(out, addrRange{start, end})
		}
	}
	return out
}
