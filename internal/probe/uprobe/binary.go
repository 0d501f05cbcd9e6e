package uprobe

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/symbols"
)

// Binary is an ELF executable or shared library that user-space probes
// attach to.
type Binary struct {
	// Path is the file probes attach to, as attach points show it: as
	// written when it was a path, resolved when it was a command or library
	// name.
	Path string
	*elf.File
	// allSymbols reads .symtab and .dynsym once: finding functions,
	// uaddr() and USDT arguments all search them.
	allSymbols func() ([]elf.Symbol, error)
}

// Open resolves name the way the uprobe and usdt attach points name
// binaries, and opens it. A name with a slash is a path. Otherwise it is
// a file mapped by process pid (when pid is not 0), a command in $PATH, or
// a library as the dynamic linker finds it ("libc", "libc.so.6", "c").
// A binary that cannot be found or is not an ELF file for this machine is
// a *probe.Error; other failures wrap their cause.
func Open(name string, pid int) (*Binary, error) {
	if name == "" {
		return nil, &probe.Error{Msg: "the binary is missing", Hints: []string{"name it by path, command or library: /bin/bash, bash or libc"}}
	}
	path := name
	if !strings.Contains(name, "/") {
		found, err := resolve(name, pid)
		if err != nil {
			return nil, err
		}
		path = found
	}
	f, err := openELF(path)
	if errors.Is(err, os.ErrNotExist) {
		e := &probe.Error{Msg: fmt.Sprintf("binary %s does not exist", path), Missing: true}
		dir, base := filepath.Split(path)
		if entries, err := os.ReadDir(dir); err == nil {
			var names []string
			for _, en := range entries {
				names = append(names, en.Name())
			}
			if close := source.Closest(base, names, 3); len(close) > 0 {
				e.Hints = append(e.Hints, "did you mean "+filepath.Join(dir, close[0])+"?")
			}
		}
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	b := &Binary{Path: path, File: f}
	b.allSymbols = sync.OnceValues(b.readSymbols)
	return b, nil
}

// machines maps GOARCH to the ELF machine of its binaries.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// openELF opens path as an executable or shared object of the host's
// machine. debug/elf can panic on malformed files; that becomes a
// *probe.Error like any other file that is not ELF.
func openELF(path string) (f *elf.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, &probe.Error{Msg: fmt.Sprintf("%s is not a valid ELF file: %v", path, r)}
		}
	}()
	f, err = elf.Open(path)
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return nil, fmt.Errorf("open binary: %w", err)
	}
	if err != nil {
		return nil, &probe.Error{Msg: fmt.Sprintf("%s is not an ELF executable or library: %v", path, err)}
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		f.Close()
		return nil, &probe.Error{Msg: fmt.Sprintf("%s is an ELF %s, not an executable or shared library", path, f.Type)}
	}
	if want, ok := machines[runtime.GOARCH]; ok && f.Machine != want {
		f.Close()
		return nil, &probe.Error{Msg: fmt.Sprintf("%s is built for %s; this machine runs %s", path, f.Machine, runtime.GOARCH)}
	}
	return f, nil
}

// Symbol is a function in a binary: its virtual address and size as the
// symbol table gives them.
type Symbol struct {
	Name       string
	Addr, Size uint64
}

// readSymbols returns the entries of .symtab and .dynsym, in that order.
// debug/elf can panic on a malformed table; that becomes an error.
func (b *Binary) readSymbols() (all []elf.Symbol, err error) {
	defer func() {
		if r := recover(); r != nil {
			all, err = nil, &probe.Error{Msg: fmt.Sprintf("%s has a malformed symbol table: %v", b.Path, r)}
		}
	}()
	for _, read := range []func() ([]elf.Symbol, error){b.Symbols, b.DynamicSymbols} {
		syms, err := read()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return nil, fmt.Errorf("read symbols of %s: %w", b.Path, err)
		}
		all = append(all, syms...)
	}
	return all, nil
}

// Functions returns the binary's function symbols from .symtab and
// .dynsym, defined ones only, sorted by name, each name once.
func (b *Binary) Functions() ([]Symbol, error) {
	all, err := b.allSymbols()
	if err != nil {
		return nil, err
	}
	var fns []Symbol
	seen := map[string]bool{}
	for _, s := range all {
		typ := elf.ST_TYPE(s.Info)
		// STT_LOOS is STT_GNU_IFUNC: strlen and friends in glibc.
		if typ != elf.STT_FUNC && typ != elf.STT_LOOS || s.Value == 0 || s.Section == elf.SHN_UNDEF || s.Name == "" || seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		fns = append(fns, Symbol{Name: s.Name, Addr: s.Value, Size: s.Size})
	}
	slices.SortFunc(fns, func(a, b Symbol) int { return strings.Compare(a.Name, b.Name) })
	return fns, nil
}

// Address returns the address of the symbol name, a function or a
// variable, and false when the binary does not define it.
func (b *Binary) Address(name string) (addr uint64, ok bool) {
	s, ok := b.symbol(name)
	return s.Value, ok
}

// FileOffset converts a virtual address of the binary, as nm and objdump
// show them, into an offset in the file: the address's place in the
// loadable segment holding it.
func (b *Binary) FileOffset(vaddr uint64) (uint64, error) {
	return b.offset(vaddr, 0)
}

// CodeOffset is FileOffset for an address that must be an instruction,
// where uprobes are placed: only executable segments count.
func (b *Binary) CodeOffset(vaddr uint64) (uint64, error) {
	return b.offset(vaddr, elf.PF_X)
}

func (b *Binary) offset(vaddr uint64, flags elf.ProgFlag) (uint64, error) {
	for _, p := range b.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&flags == flags && p.Vaddr <= vaddr && vaddr < p.Vaddr+p.Filesz {
			return vaddr - p.Vaddr + p.Off, nil
		}
	}
	what := "a loaded"
	if flags != 0 {
		what = "an executable"
	}
	return 0, &probe.Error{Msg: fmt.Sprintf("address %#x is not in %s part of %s", vaddr, what, b.Path)}
}

// resolve finds the file a path-less binary name stands for.
func resolve(name string, pid int) (string, error) {
	if pid != 0 {
		if path, ok := mappedBy(pid, name); ok {
			return path, nil
		}
	}
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	if path, ok := findLibrary(name); ok {
		return path, nil
	}
	e := &probe.Error{
		Msg:     fmt.Sprintf("binary %q is neither a command in $PATH nor a library the dynamic linker knows", name),
		Hints:   []string{"name the file by its path, e.g. /usr/bin/" + name},
		Missing: true,
	}
	if close := source.Closest(name, librarySonames(), 3); len(close) > 0 {
		e.Hints = append([]string{"did you mean " + strings.Join(close, ", ") + "?"}, e.Hints...)
	}
	return "", e
}

// mappedBy finds, among the files process pid has mapped, the one name
// stands for: its executable or a library.
func mappedBy(pid int, name string) (string, bool) {
	maps, err := symbols.Mappings(pid)
	if err != nil {
		return "", false
	}
	for _, m := range maps {
		path := strings.TrimSuffix(m.Path, " (deleted)")
		if base := filepath.Base(path); strings.HasPrefix(path, "/") && (base == name || libraryMatches(name, base)) {
			return path, true
		}
	}
	return "", false
}

// Available reports, once per process, whether the kernel can create
// uprobes.
var Available = sync.OnceValue(func() error {
	if kernel.HaveDynamicProbes("uprobe") {
		return nil
	}
	return &probe.Unavailable{Reason: "this kernel has no uprobes (CONFIG_UPROBE_EVENTS is off), so only tracepoints on the program's system calls can trace it"}
})

// Attach places prog at file offset opts.Address of the binary at path,
// as a uretprobe when ret is set.
func Attach(path string, ret bool, prog *ebpf.Program, opts link.UprobeOptions) (link.Link, error) {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	attach := ex.Uprobe
	if ret {
		attach = ex.Uretprobe
	}
	// With Address set, cilium uses it as the file offset and ignores
	// the symbol.
	return attach("", prog, &opts)
}
