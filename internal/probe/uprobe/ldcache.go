package uprobe

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// libraryMatches reports whether a file named soname is the library name
// stands for, as a linker's -l option or bpftrace's uprobe:libc would
// mean it: "libc", "libc.so.6" and "c" all stand for libc.so.6.
func libraryMatches(name, soname string) bool {
	prefixes := []string{name + ".so", "lib" + name + ".so"}
	if strings.Contains(name, ".so") {
		prefixes = append(prefixes, name)
	}
	for _, prefix := range prefixes {
		if rest, ok := strings.CutPrefix(soname, prefix); ok && (rest == "" || rest[0] == '.') {
			return true
		}
	}
	return false
}

// libraryEntry is one library the dynamic linker's cache knows.
type libraryEntry struct {
	Soname, Path string
}

// ldCache is /etc/ld.so.cache, read once per process.
var ldCache = sync.OnceValue(func() []libraryEntry {
	if data, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		if entries, ok := parseLDCache(data); ok {
			return entries
		}
	}
	// A cache in a format this parser does not know: ask ldconfig.
	out, err := exec.Command("ldconfig", "-p").Output()
	if err != nil {
		return nil
	}
	return parseLDConfig(string(out))
})

const ldCacheMagic = "glibc-ld.so.cache1.1"

// parseLDCache reads the entries of a glibc ld.so.cache in the "new"
// format (glibc 2.32 and later write only that; older ones append it to
// the old format). ok is false when data holds no such cache.
//
// Layout: the magic, then u32 entry count and string table length, a
// flags byte and padding up to 48 bytes; then 24-byte entries of i32
// flags, u32 key and value (string offsets from the magic), u32 OS
// version and u64 hwcaps.
func parseLDCache(data []byte) (entries []libraryEntry, ok bool) {
	start := bytes.Index(data, []byte(ldCacheMagic))
	if start < 0 {
		return nil, false
	}
	cache := data[start:]
	const header, entrySize = 48, 24
	if len(cache) < header {
		return nil, false
	}
	order := binary.ByteOrder(binary.LittleEndian)
	// Flags bits 0-1: 0 unknown, 1 invalid, 2 little endian, 3 big endian.
	if cache[28]&3 == 3 {
		order = binary.BigEndian
	}
	n := uint64(order.Uint32(cache[20:]))
	if n > uint64(len(cache)-header)/entrySize {
		return nil, false
	}
	str := func(off uint32) (string, bool) {
		if uint64(off) >= uint64(len(cache)) {
			return "", false
		}
		s := cache[off:]
		end := bytes.IndexByte(s, 0)
		if end < 0 {
			return "", false
		}
		return string(s[:end]), true
	}
	for i := range n {
		e := cache[header+i*entrySize:]
		soname, ok1 := str(order.Uint32(e[4:]))
		path, ok2 := str(order.Uint32(e[8:]))
		if !ok1 || !ok2 {
			return nil, false
		}
		entries = append(entries, libraryEntry{Soname: soname, Path: path})
	}
	return entries, true
}

// parseLDConfig reads `ldconfig -p` lines such as
// "\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6".
func parseLDConfig(out string) []libraryEntry {
	var entries []libraryEntry
	for line := range strings.Lines(out) {
		left, path, ok := strings.Cut(strings.TrimSpace(line), " => ")
		soname, _, _ := strings.Cut(left, " ")
		if ok && soname != "" {
			entries = append(entries, libraryEntry{Soname: soname, Path: path})
		}
	}
	return entries
}

// libraryDirs are where the dynamic linker looks after its cache.
func libraryDirs() []string {
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	dirs := []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"}
	if triplet != "" {
		dirs = append([]string{"/lib/" + triplet, "/usr/lib/" + triplet}, dirs...)
	}
	return dirs
}

// findLibrary finds the library name stands for: first in the linker's
// cache, then in the standard directories. Only ELF files of this
// machine count: the cache also lists 32-bit libraries.
func findLibrary(name string) (string, bool) {
	var candidates []string
	for _, e := range ldCache() {
		if libraryMatches(name, e.Soname) {
			candidates = append(candidates, e.Path)
		}
	}
	for _, dir := range libraryDirs() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if libraryMatches(name, e.Name()) {
				candidates = append(candidates, filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, path := range candidates {
		if f, err := elf.Open(path); err == nil {
			ok := f.Type == elf.ET_DYN && f.Machine == machines[runtime.GOARCH]
			f.Close()
			if ok {
				return path, true
			}
		}
	}
	return "", false
}

// librarySonames lists the names in the linker's cache, for hints.
func librarySonames() []string {
	var names []string
	for _, e := range ldCache() {
		names = append(names, e.Soname)
	}
	return names
}
