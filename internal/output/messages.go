package output

import (
	"fmt"
	"strings"
)

// Kinds of Message, named as bpftrace's JSON output names them.
const (
	TimeMessage   = "time"    // time()
	CatMessage    = "cat"     // cat(): a file's contents
	SystemMessage = "syscall" // system(): a command's output
)

// HelperError is a BPF helper call that failed at run time (-k).
type HelperError struct {
	Where   string // "FILE:LINE:COL-COL"
	Helper  string // "map_update_elem"
	Code    int64  // the helper's negative return value
	Message string // what the error number means
	Line    int
	Col     int
	// Source is the script line and, under it, the failing span marked
	// with ~.
	Source string
}

// Text is how text output reports a helper error, on the warning stream.
func (h HelperError) Text() string {
	return fmt.Sprintf("%s: WARNING: Failed to %s: %s (%d)\n%s", h.Where, h.Helper, h.Message, h.Code, h.Source)
}

// Message writes text that a function produced in user space.
func (t *text) Message(_, s string) { t.w.WriteString(s) }

// HelperError leaves the report to the warning stream, as bpftrace does.
func (t *text) HelperError(HelperError) bool { return false }

// Message writes {"type": KIND, "data": TEXT}.
func (j *jsonw) Message(kind, s string) {
	j.w.WriteString(`{"type": ` + quote(kind) + `, "data": ` + quote(s) + "}\n")
}

// HelperError writes {"type": "helper_error", "data": {...}}. bpftrace
// 0.17 puts these members beside "type" instead; here every line has the
// one {"type", "data"} shape, so a reader needs no special case.
func (j *jsonw) HelperError(h HelperError) bool {
	fmt.Fprintf(j.w, `{"type": "helper_error", "data": {"msg": %s, "helper": %s, "retcode": %d, "line": %d, "col": %d}}`+"\n",
		quote(h.Message), quote(h.Helper), h.Code, h.Line, h.Col)
	return true
}

// Underline marks columns col to col+width-1 (1-based) of line with ~, as
// bpftrace underlines the site of a run-time warning.
func Underline(line string, col, width int) string {
	width = max(1, min(width, len(line)-(col-1)))
	return line + "\n" + strings.Repeat(" ", col-1) + strings.Repeat("~", width) + "\n"
}
