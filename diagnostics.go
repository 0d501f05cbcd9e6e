package ebtrace

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
)

// Diagnostic is one problem in a script, at the position that caused it.
type Diagnostic struct {
	File   string // the script's name, as given to Compile or CompileFile
	Line   int    // 1-based
	Column int    // 1-based, in bytes of the line as written
	// Code is a stable identifier of the kind of problem, such as
	// "syntax" or "unknown-field".
	Code    string
	Message string
	Hints   []string // suggestions, such as "did you mean ...?"
	text    string
}

// String is the diagnostic as the command line shows it: position and
// message, the source line with a caret under the position, and the
// hints, over several lines without a final newline.
func (d Diagnostic) String() string { return d.text }

// CompileError is a script the compiler, or at Start the kernel's
// verifier, refused. Its Error text is the diagnostics as the command line
// shows them: each with its source line and a caret under the position.
type CompileError struct {
	Diagnostics []Diagnostic
	// VerifierLog is the verifier's log when the verifier refused a
	// program; nil for the compiler's own diagnostics.
	VerifierLog []string
	diags       *source.Diagnostics
}

func (e *CompileError) Error() string { return e.diags.Error() }

// PermissionError is an operation the kernel refused with EPERM or EACCES.
// Privileged says whether this process holds every capability tracing
// needs; Denied says what most likely refused it: the missing privileges,
// or for a privileged process what refuses even it (kernel lockdown, a
// security module).
type PermissionError struct {
	Err        error
	Privileged bool
	Denied     string
}

func (e *PermissionError) Error() string { return e.Err.Error() + ": " + e.Denied }
func (e *PermissionError) Unwrap() error { return e.Err }

// publicError turns the compiler's and loader's script diagnostics into a
// *CompileError and a refusal for lack of permission into a
// *PermissionError; it returns any other error as it is.
func publicError(err error) error {
	var verr *load.VerifierError
	var diags *source.Diagnostics
	var unavailable *probe.Unavailable
	switch {
	case err == nil:
		return nil
	case errors.As(err, &verr):
		ce := compileError(verr.Diag)
		ce.VerifierLog = verr.Log
		return ce
	case errors.As(err, &diags):
		return compileError(diags)
	case errors.As(err, &unavailable):
		// Already says why, even when its cause is an EPERM (fentry
		// under lockdown).
		return err
	case errors.Is(err, load.ErrPrivileges), errors.Is(err, fs.ErrPermission):
		access := kernel.CurrentAccess()
		return &PermissionError{Err: err, Privileged: access.Privileged(), Denied: access.Denied()}
	}
	return err
}

func compileError(d *source.Diagnostics) *CompileError {
	e := &CompileError{diags: d}
	for _, it := range d.Items {
		e.Diagnostics = append(e.Diagnostics, diagnostic(d.File, it))
	}
	return e
}

func diagnostic(f *source.File, d source.Diagnostic) Diagnostic {
	line, col := f.Position(d.Span.Start)
	var text strings.Builder
	source.RenderOne(&text, f, d)
	return Diagnostic{File: f.Name, Line: line, Column: col, Code: d.Code, Message: d.Message, Hints: d.Hints,
		text: strings.TrimRight(text.String(), "\n")}
}
