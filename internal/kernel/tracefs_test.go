package kernel

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// tracefsFS reads whole files of any size, and its errors say what
// os.ReadFile's would.
func TestTracefsFSReadFile(t *testing.T) {
	root := t.TempDir()
	long := bytes.Repeat([]byte("field:int x;\n"), 1000)
	if err := os.MkdirAll(filepath.Join(root, "events", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{"events/a/long": long, "events/a/empty": nil} {
		if err := os.WriteFile(filepath.Join(root, name), text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsys := tracefsFS{FS: os.DirFS(root), root: root}
	for name, want := range map[string][]byte{"events/a/long": long, "events/a/empty": {}} {
		got, err := fs.ReadFile(fsys, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
	if _, err := fs.ReadFile(fsys, "events/b/format"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := fs.ReadFile(fsys, "../etc/passwd"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("path outside the tree: %v", err)
	}
	if _, err := fs.ReadFile(fsys, "events/a"); err == nil {
		t.Error("reading a directory succeeded")
	}
}
