package symbols

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// segment is one loadable segment: file bytes [off, off+filesz) are mapped
// at the ELF virtual address vaddr plus the mapping's load bias.
type segment struct{ off, vaddr, filesz uint64 }

// vaddr translates a file offset to the ELF virtual address the linker gave
// that byte, the address space the symbol table is in.
func (t *Table) vaddr(fileOff uint64) (uint64, bool) {
	for _, s := range t.segs {
		if fileOff >= s.off && fileOff-s.off < s.filesz {
			return fileOff - s.off + s.vaddr, true
		}
	}
	return 0, false
}

// fileKey identifies a file's contents well enough to reuse its table: the
// same inode unchanged since. Paths are left out because one file is
// reached by many (/proc/PID/root/..., /proc/PID/map_files/...).
type fileKey struct {
	dev, ino    uint64
	mtime, size int64
}

// elfEntry is one cached table, built once even when asked for
// concurrently.
type elfEntry struct {
	once  sync.Once
	table *Table
	err   error
}

var elfCache = struct {
	sync.Mutex
	m map[fileKey]*elfEntry
}{m: map[fileKey]*elfEntry{}}

// ELF returns the function symbols of the ELF file at path, with the
// addresses the linker gave them. It reads .symtab and .dynsym; a Go
// binary stripped of .symtab has its functions read from .gopclntab.
// Tables are cached for as long as the file keeps its inode and mtime.
func ELF(path string) (*Table, error) {
	t, _, err := openELF(path)
	return t, err
}

// openELF is ELF that also returns the file's inode, so a process lookup can
// check it opened the file that is mapped.
func openELF(path string) (*Table, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read symbols: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("read symbols: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, 0, fmt.Errorf("read symbols of %s: no inode: %w", path, errors.ErrUnsupported)
	}
	key := fileKey{dev: st.Dev, ino: st.Ino, mtime: fi.ModTime().UnixNano(), size: fi.Size()}
	elfCache.Lock()
	e, ok := elfCache.m[key]
	if !ok {
		e = &elfEntry{}
		elfCache.m[key] = e
	}
	elfCache.Unlock()
	e.once.Do(func() {
		e.table, e.err = readELF(f)
		if e.err != nil {
			e.err = fmt.Errorf("read symbols of %s: %w", path, e.err)
		}
	})
	return e.table, st.Ino, e.err
}

// readELF builds the table of one ELF image.
func readELF(r io.ReaderAt) (*Table, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	var cands []candidate
	symtab, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, err
	}
	cands = appendFuncs(cands, symtab)
	if len(cands) == 0 && f.Section(".gopclntab") != nil {
		if cands, err = goFuncs(f); err != nil {
			return nil, err
		}
	}
	dynsym, err := f.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, err
	}
	t := newTable(appendFuncs(cands, dynsym))
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			t.segs = append(t.segs, segment{off: p.Off, vaddr: p.Vaddr, filesz: p.Filesz})
		}
	}
	return t, nil
}

// appendFuncs appends the defined functions among syms. At one address a
// sized symbol is preferred, then a global, then a weak one.
func appendFuncs(cands []candidate, syms []elf.Symbol) []candidate {
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC || s.Section == elf.SHN_UNDEF || s.Value == 0 || s.Name == "" {
			continue
		}
		rank := 0
		switch elf.ST_BIND(s.Info) {
		case elf.STB_GLOBAL:
		case elf.STB_WEAK:
			rank = 1
		default:
			rank = 2
		}
		if s.Size == 0 {
			rank += 3
		}
		cands = append(cands, candidate{Symbol: Symbol{Name: s.Name, Addr: s.Value, Size: s.Size}, rank: rank})
	}
	return cands
}

// goFuncs reads the functions of a Go binary from its pclntab, which the
// runtime needs and so survives stripping.
func goFuncs(f *elf.File) (cands []candidate, err error) {
	text := f.Section(".text")
	if text == nil {
		return nil, errors.New("Go pclntab without a .text section")
	}
	data, err := f.Section(".gopclntab").Data()
	if err != nil {
		return nil, err
	}
	// debug/gosym trusts the table's offsets and may panic on a corrupt
	// one; a bad binary must be an error instead.
	defer func() {
		if r := recover(); r != nil {
			cands, err = nil, fmt.Errorf("corrupt Go pclntab: %v", r)
		}
	}()
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, err
	}
	for _, fn := range tab.Funcs {
		if fn.End > fn.Entry {
			cands = append(cands, candidate{Symbol: Symbol{Name: fn.Name, Addr: fn.Entry, Size: fn.End - fn.Entry}})
		}
	}
	return cands, nil
}

// vdso returns the symbols of the kernel's vDSO, read from this process's
// own copy: every process of the running kernel maps the same image.
var vdso = sync.OnceValues(func() (*Table, error) {
	image, err := vdsoImage()
	if err != nil {
		return nil, err
	}
	t, err := readELF(bytes.NewReader(image))
	if err != nil {
		return nil, fmt.Errorf("read the vDSO: %w", err)
	}
	return t, nil
})

// vdsoImage returns the bytes of this process's vDSO mapping.
func vdsoImage() ([]byte, error) {
	maps, err := readMaps("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		if m.Path != "[vdso]" {
			continue
		}
		mem, err := os.Open("/proc/self/mem")
		if err != nil {
			return nil, fmt.Errorf("read the vDSO: %w", err)
		}
		defer mem.Close()
		image := make([]byte, m.End-m.Start)
		if _, err := mem.ReadAt(image, int64(m.Start)); err != nil {
			return nil, fmt.Errorf("read the vDSO: %w", err)
		}
		return image, nil
	}
	return nil, fmt.Errorf("this process maps no vDSO: %w", os.ErrNotExist)
}
