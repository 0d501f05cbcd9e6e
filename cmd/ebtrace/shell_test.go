package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestHistoryKeepsInputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history")
	// A line as older files hold it stays as it is.
	if err := os.WriteFile(path, []byte("BEGIN { @x = 1; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := loadHistory(path)
	inputs := []string{
		`BEGIN { printf("a  b\n"); }`,
		"BEGIN { // the first\n  @x = 1;\n}",
	}
	for _, in := range inputs {
		h.record(in)
	}
	want := append([]string{"BEGIN { @x = 1; }"}, inputs...)
	if got := loadHistory(path).entries; fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("the history reads back %q, want %q", got, want)
	}
}
