package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A fact is computed once per boot; a missing, corrupt or unwritable
// cache only means computing it again, and an error is never cached.
func TestBootCachedInt(t *testing.T) {
	if _, err := bootID(); err != nil {
		t.Skipf("no boot id: %v", err)
	}
	dir := t.TempDir()
	old := cacheDir
	cacheDir = filepath.Join(dir, "cache")
	t.Cleanup(func() { cacheDir = old })
	calls := 0
	compute := func(v int, err error) func() (int, error) {
		return func() (int, error) { calls++; return v, err }
	}
	if _, err := bootCachedInt("f", 1, compute(0, errors.New("no BTF"))); err == nil {
		t.Fatal("the error was lost")
	}
	for i, want := range []int{7, 7} {
		v, err := bootCachedInt("f", 1, compute(7, nil))
		if err != nil || v != want {
			t.Fatalf("call %d: %d, %v", i, v, err)
		}
	}
	if calls != 2 {
		t.Errorf("computed %d times, want 2 (the error, then once)", calls)
	}
	files, _ := filepath.Glob(filepath.Join(cacheDir, "f-*"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	for _, corrupt := range []string{"x\n", "0\n", ""} {
		os.WriteFile(files[0], []byte(corrupt), 0o600)
		if v, err := bootCachedInt("f", 1, compute(9, nil)); err != nil || v != 9 {
			t.Errorf("after %q in the cache: %d, %v; want 9 computed", corrupt, v, err)
		}
	}
	cacheDir = "/proc/nonexistent/ebtrace"
	for range 2 {
		if v, err := bootCachedInt("f", 1, compute(5, nil)); err != nil || v != 5 {
			t.Errorf("unwritable cache: %d, %v", v, err)
		}
	}
}

// IntType caches plain integers only, by C identifier.
func TestIntType(t *testing.T) {
	if _, err := bootID(); err != nil {
		t.Skipf("no boot id: %v", err)
	}
	old := cacheDir
	cacheDir = t.TempDir()
	t.Cleanup(func() { cacheDir = old })
	resolved := 0
	resolve := func(size int, signed, ok bool) func() (int, bool, bool) {
		return func() (int, bool, bool) { resolved++; return size, signed, ok }
	}
	for range 2 {
		if size, signed, ok := IntType("pid_t", resolve(4, true, true)); size != 4 || !signed || !ok {
			t.Errorf("pid_t: %d %v %v", size, signed, ok)
		}
	}
	if size, signed, ok := IntType("umode_t", resolve(2, false, true)); size != 2 || signed || !ok {
		t.Errorf("umode_t: %d %v %v", size, signed, ok)
	}
	for range 2 {
		if _, _, ok := IntType("enum_t", resolve(4, true, false)); ok {
			t.Error("a type that is not a plain integer was taken for one")
		}
	}
	if _, _, ok := IntType("unsigned long", resolve(8, false, true)); !ok {
		t.Error("unsigned long")
	}
	if resolved != 5 {
		t.Errorf("resolved %d times, want 5: pid_t once, umode_t once, enum_t twice, unsigned long (not an identifier) once", resolved)
	}
}

// BootSupports probes until the answer is yes, then reads it back.
func TestBootSupports(t *testing.T) {
	old := cacheDir
	cacheDir = t.TempDir()
	t.Cleanup(func() { cacheDir = old })
	probes := 0
	probe := func(err error) func() error {
		return func() error { probes++; return err }
	}
	if err := BootSupports("x", probe(errors.New("no"))); err == nil || probes != 1 {
		t.Fatalf("refused: %v after %d probes", err, probes)
	}
	for range 2 {
		if err := BootSupports("x", probe(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if probes != 2 {
		t.Errorf("%d probes, want 2: a yes is cached", probes)
	}
}
