package testutil

import (
	"os"
	"strings"
	"testing"
)

// Chunk is one case of a chunked testdata file: many small cases in one
// file, separated by a line of their own.
type Chunk struct {
	Line  int      // 1-based line of the chunk's first line in the file
	Lines []string // the chunk's lines, without the separators
}

// Text returns the chunk's lines as one newline-terminated text.
func (c Chunk) Text() string { return strings.Join(c.Lines, "\n") + "\n" }

// Chunks splits the file at path into chunks at each line equal to sep.
func Chunks(t testing.TB, path, sep string) []Chunk {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var chunks []Chunk
	cur := Chunk{Line: 1}
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l == sep {
			chunks = append(chunks, cur)
			cur = Chunk{Line: i + 2}
			continue
		}
		cur.Lines = append(cur.Lines, l)
	}
	return append(chunks, cur)
}
