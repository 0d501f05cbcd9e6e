package ftfilter

import (
	"strings"

	"github.com/ebtrace/ebtrace/internal/syntax"
)

// strField is a string the kernel's filter can compare: comm, a char
// array or a __data_loc char[] field.
type strField struct {
	name string // as the filter names it
	// maxLen is the longest literal whose == means the same on both
	// sides. ebtrace reads the field into a buffer of B bytes, keeping at
	// most B-1 characters, and compares buffers; the kernel compares the
	// whole string, as strncmp over the field's length. A literal of B-2
	// characters or fewer tells a longer string apart even when ebtrace
	// cut it (or, for a char array, when it has no NUL).
	maxLen int
}

// dataLocBuffer is the buffer ebtrace reads a __data_loc string into
// (probe/tracepoint types it string[64]).
const dataLocBuffer = 64

// str resolves e to a string field.
func (t *translator) str(e syntax.Expr) (strField, bool) {
	if id, ok := e.(*syntax.Ident); ok {
		// The task's comm always holds its NUL within 16 bytes, so
		// literals of up to 15 characters compare alike.
		if id.Name == "comm" && t.generic("COMM") {
			return strField{name: "COMM", maxLen: 15}, true
		}
		return strField{}, false
	}
	f, ok := t.argField(e)
	if !ok || !strings.Contains(f.Type, "char") {
		return strField{}, false
	}
	switch {
	case f.DataLoc && f.IsString:
		return strField{name: f.Name, maxLen: dataLocBuffer - 2}, true
	case !f.DataLoc && f.ArrayLen > 0 && f.IsString && strings.HasPrefix(strings.TrimPrefix(f.Type, "const "), "char"):
		return strField{name: f.Name, maxLen: min(f.Size, maxString) - 2}, true
	}
	return strField{}, false
}

// maxString is one more than the longest string the kernel's filter takes
// as a value.
const maxString = 256

// compare translates `field op lit` for op == or !=.
func (s strField) compare(op, lit string) bounds {
	if len(lit) > s.maxLen {
		return untranslated
	}
	for i := 0; i < len(lit); i++ {
		// The filter's strings have no escapes: keep to printable ASCII.
		if lit[i] < ' ' || lit[i] > '~' {
			return untranslated
		}
	}
	quote := `"`
	switch {
	case !strings.Contains(lit, `"`):
	case !strings.Contains(lit, `'`):
		quote = `'`
	default:
		return untranslated
	}
	return exactly(pred(s.name + " " + op + " " + quote + lit + quote))
}
