package symbols

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Frame is a user address resolved to a symbol.
type Frame struct {
	Name   string
	Off    uint64 // the address minus the symbol's start
	Module string // the mapped file, as /proc/PID/maps names it
}

// rereadInterval bounds how often a lookup that finds no mapping re-reads
// the process's maps (the address may be in a library loaded since), so a
// stream of unresolvable addresses costs one read a second, not one each.
const rereadInterval = time.Second

// Process resolves the user addresses of one process. It reads
// /proc/PID/maps and the symbols of the executable files mapped there on
// first use, or when Load is called, and keeps what it read, so addresses
// still resolve after the process has exited. A file first needed after
// the exit is found by its path, checked against the inode the maps
// recorded.
type Process struct {
	pid int

	mu     sync.Mutex
	maps   []Mapping // sorted by start
	readAt time.Time // when maps was last read, zero before
	// program says whether maps hold an executable file (MapsProgram).
	program bool
	files   map[string]*Table
	perf    *Table    // the JIT symbols of /tmp/perf-PID.map
	perfAt  time.Time // when perf was last read, zero before
}

// NewProcess returns the resolver for process pid; it reads nothing yet.
func NewProcess(pid int) *Process { return &Process{pid: pid, files: map[string]*Table{}} }

// Load reads the process's mappings now. Call it as soon as the process is
// first seen: once it exits its mappings can no longer be read.
func (p *Process) Load() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.read()
}

// read replaces the mappings with the process's current ones and reads the
// symbols of its executable files while the process lives to open them
// through /proc: after it exits, a file since deleted or replaced (a binary
// rebuilt) can no longer be found. On failure (the process is gone) it
// keeps what it had, and so it does for no mappings at all: a process
// that has exited but is not yet reaped (a zombie) shows none.
func (p *Process) read() error {
	p.readAt = time.Now()
	maps, err := readMaps(fmt.Sprintf("/proc/%d/maps", p.pid))
	if err != nil || len(maps) == 0 {
		return err
	}
	p.maps = maps
	p.program = false
	for _, m := range maps {
		if m.Exec && strings.HasPrefix(m.Path, "/") {
			p.file(m)
			p.program = true
		}
	}
	return nil
}

// MapsProgram reports whether the mappings last read hold an executable
// file. Right after an exec, before the kernel has mapped the new program,
// they hold none, and a reader that wants the program must read again.
func (p *Process) MapsProgram() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.program
}

// Lookup returns the function containing the user address addr.
func (p *Process) Lookup(addr uint64) (Frame, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readAt.IsZero() {
		p.read()
	}
	m, ok := p.mappingAt(addr)
	if !ok && time.Since(p.readAt) >= rereadInterval && p.read() == nil {
		m, ok = p.mappingAt(addr)
	}
	var t *Table
	switch {
	case !ok:
	case m.Path == "[vdso]":
		t, _ = vdso()
	case strings.HasPrefix(m.Path, "/"):
		t = p.file(m)
	}
	if t == nil {
		return p.jitLookup(addr)
	}
	vaddr, ok := t.vaddr(addr - m.Start + m.Off)
	if !ok {
		return Frame{}, false
	}
	s, ok := t.Lookup(vaddr)
	if !ok {
		return Frame{}, false
	}
	return Frame{Name: s.Name, Off: vaddr - s.Addr, Module: m.Path}, true
}

// mappingAt returns the mapping containing addr.
func (p *Process) mappingAt(addr uint64) (Mapping, bool) {
	i := sort.Search(len(p.maps), func(i int) bool { return p.maps[i].End > addr })
	if i == len(p.maps) || addr < p.maps[i].Start {
		return Mapping{}, false
	}
	return p.maps[i], true
}

// file returns the symbols of the file m maps, or nil when it cannot be
// read. The file is opened through the process while it lives (so a
// deleted file or one in another mount namespace is still found), then
// by its path; the inode must match the one in the maps.
func (p *Process) file(m Mapping) *Table {
	if t, ok := p.files[m.Path]; ok {
		return t
	}
	path := strings.TrimSuffix(m.Path, " (deleted)")
	var found *Table
	for _, name := range []string{
		fmt.Sprintf("/proc/%d/map_files/%x-%x", p.pid, m.Start, m.End),
		fmt.Sprintf("/proc/%d/root%s", p.pid, path),
		path,
	} {
		t, ino, err := openELF(name)
		if err == nil && (m.Inode == 0 || ino == m.Inode) {
			found = t
			break
		}
	}
	p.files[m.Path] = found
	return found
}

// jitLookup resolves an address outside any mapped file through the
// perf map a JIT compiler may write (/tmp/perf-PID.map). The JIT appends
// to it as it runs, so a miss re-reads it, at most once a rereadInterval.
func (p *Process) jitLookup(addr uint64) (Frame, bool) {
	path := fmt.Sprintf("/tmp/perf-%d.map", p.pid)
	if p.perfAt.IsZero() {
		p.readPerfMap(path)
	}
	s, ok := p.perf.Lookup(addr)
	if !ok && time.Since(p.perfAt) >= rereadInterval {
		p.readPerfMap(path)
		s, ok = p.perf.Lookup(addr)
	}
	if !ok {
		return Frame{}, false
	}
	return Frame{Name: s.Name, Off: addr - s.Addr, Module: path}, true
}

func (p *Process) readPerfMap(path string) {
	p.perfAt = time.Now()
	f, err := os.Open(path)
	if err != nil {
		p.perf = newTable(nil)
		return
	}
	defer f.Close()
	p.perf = parsePerfMap(f)
}

// parsePerfMap reads the perf map format, "START SIZE NAME" a line with
// hex numbers. Lines that do not parse are skipped, as perf does; of
// entries at one address the latest wins, since a JIT reuses memory.
func parsePerfMap(r io.Reader) *Table {
	var cands []candidate
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		start, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		size, name, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
		a, err1 := strconv.ParseUint(strings.TrimPrefix(start, "0x"), 16, 64)
		n, err2 := strconv.ParseUint(strings.TrimPrefix(size, "0x"), 16, 64)
		if err1 != nil || err2 != nil || name == "" {
			continue
		}
		cands = append(cands, candidate{Symbol: Symbol{Name: name, Addr: a, Size: n}, rank: -len(cands)})
	}
	return newTable(cands)
}

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End, Off uint64 // addresses, and the file offset mapped at Start
	Inode           uint64
	Exec            bool   // mapped executable: code lives there
	Path            string // a file, a [pseudo] name, or "" when anonymous
}

// Mappings reads the memory mappings of process pid, sorted by address.
func Mappings(pid int) ([]Mapping, error) {
	return readMaps(fmt.Sprintf("/proc/%d/maps", pid))
}

// readMaps reads a /proc/PID/maps file.
func readMaps(path string) ([]Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	defer f.Close()
	var maps []Mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m, err := parseMapsLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		maps = append(maps, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	sort.Slice(maps, func(i, j int) bool { return maps[i].Start < maps[j].Start })
	return maps, nil
}

// parseMapsLine parses "START-END PERMS OFFSET DEV INODE [PATH]"; the path
// runs to the end of the line and may contain spaces.
func parseMapsLine(line string) (Mapping, error) {
	bad := func(what string) (Mapping, error) {
		return Mapping{}, fmt.Errorf("bad %s in maps line %q", what, line)
	}
	rest := line
	field := func() string {
		var f string
		f, rest, _ = strings.Cut(strings.TrimLeft(rest, " "), " ")
		return f
	}
	var m Mapping
	lo, hi, ok := strings.Cut(field(), "-")
	if !ok {
		return bad("address range")
	}
	var err error
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return bad("start address")
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil || m.End <= m.Start {
		return bad("end address")
	}
	perms := field()
	if len(perms) != 4 {
		return bad("permissions")
	}
	m.Exec = perms[2] == 'x'
	if m.Off, err = strconv.ParseUint(field(), 16, 64); err != nil {
		return bad("offset")
	}
	if !strings.Contains(field(), ":") {
		return bad("device")
	}
	if m.Inode, err = strconv.ParseUint(field(), 10, 64); err != nil {
		return bad("inode")
	}
	m.Path = strings.TrimLeft(rest, " ")
	return m, nil
}
