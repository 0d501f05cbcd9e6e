// Package preprocess owns the C preprocessor lines a script may hold:
// #define and #undef (object-like and function-like macros, # and ##),
// the conditionals #if, #ifdef, #ifndef, #elif, #else and #endif, #error,
// and the macros of the headers a script #includes.
//
// Input: a script's source.File and the predefined macros. Output: a new
// source.File of the same name whose text has the same lines: directive
// lines and skipped groups become empty lines, #include lines stay as
// written (the parser records them and check reads their structs), and
// macros are expanded in the rest. A line keeps its number, and the file
// carries anchors (source.NewPreprocessed) that map each of its offsets back
// to the script as written, an expansion's to the macro's use, so later
// passes' diagnostics show the author's line and column.
//
// Algorithm: the script is read line by line, tracking block comments
// across lines and a stack of conditional groups. The non-directive lines
// between two directives are expanded together (a macro call may span
// them) by C's rescanning rule with hide sets (see expand). An #include
// also runs the header, and the headers it includes, through the same
// steps for their macros only; their errors are not the script's.
package preprocess

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/source"
)

// Options says what the preprocessor starts from.
type Options struct {
	// Defines are the predefined object-like macros, name to value.
	Defines map[string]string
	// SystemDirs are searched for #include <FILE>; #include "FILE" looks
	// in the including file's directory and then the working directory.
	SystemDirs []string
}

// Predefined returns the macros bpftrace defines that apply to ebtrace
// on this machine: BPFTRACE_HAVE_BTF when the kernel offers its BTF, from
// which ebtrace takes kernel types, so a tool skips the headers it would
// otherwise include for them.
func Predefined() map[string]string {
	defs := map[string]string{}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil {
		defs["BPFTRACE_HAVE_BTF"] = "1"
	}
	return defs
}

// supported lists the directives, for the hint of an unknown one.
const supported = "#include, #define, #undef, #if, #ifdef, #ifndef, #elif, #else, #endif, #error"

// maxIncludeDepth bounds nested headers, against a header that includes
// itself without a guard.
const maxIncludeDepth = 64

// group is one open conditional: #if ... #endif.
type group struct {
	at          source.Span // the opening directive, for "unterminated"
	outerActive bool        // the lines around the group are kept
	taken       bool        // some branch so far was chosen
	active      bool        // the current branch is kept
	sawElse     bool
}

// state is one run over a file: the script or a header.
type state struct {
	opts   Options
	macros map[string]*macro
	diags  *source.Diagnostics
	depth  int // of nested headers; 0 for the script
}

// Run preprocesses f. The error, if any, is *source.Diagnostics against f.
func Run(f *source.File, opts Options) (*source.File, error) {
	s := &state{opts: opts, macros: map[string]*macro{}, diags: &source.Diagnostics{File: f}}
	for name, value := range opts.Defines {
		s.macros[name] = &macro{name: name, body: skipBlank(lex(value, 0))}
	}
	out := s.file(f)
	if err := s.diags.Err(); err != nil {
		return nil, err
	}
	return source.NewPreprocessed(f, out.text.String(), out.anchors), nil
}

// output is a preprocessed text and where its parts come from.
type output struct {
	text    strings.Builder
	anchors []source.Anchor
}

// write appends s, which comes from offset written of the script (or from
// the use of a macro there, use bytes long).
func (o *output) write(s string, written, use int) {
	a := source.Anchor{Out: source.Pos(o.text.Len()), Written: source.Pos(written), Use: use}
	// An anchor that continues the last one (the next bytes as written,
	// or more of the same macro use) would map no differently.
	if n := len(o.anchors); n == 0 || !continues(o.anchors[n-1], a) {
		o.anchors = append(o.anchors, a)
	}
	o.text.WriteString(s)
}

// continues reports whether anchor a maps its bytes as p maps those after
// it already.
func continues(p, a source.Anchor) bool {
	if a.Use == 0 {
		return p.Use == 0 && a.Written-p.Written == a.Out-p.Out
	}
	return p.Use == a.Use && p.Written == a.Written
}

// file preprocesses one file and returns its output.
func (s *state) file(f *source.File) *output {
	text := f.Text
	out := &output{}
	var groups []group
	active := func() bool { return len(groups) == 0 || groups[len(groups)-1].active }
	inComment := false
	// The kept lines since the last directive, text[bodyStart:bodyEnd],
	// are expanded together; a header's are only scanned for directives.
	bodyStart, bodyEnd := -1, -1
	flush := func() {
		if bodyStart >= 0 && s.depth == 0 {
			for _, t := range s.expandBody(text[bodyStart:bodyEnd], bodyStart) {
				out.write(t.text, t.pos, t.use)
			}
		}
		bodyStart = -1
	}
	for start := 0; start < len(text); {
		end := lineEnd(text, start)
		line := text[start:end]
		trimmed := strings.TrimLeft(line, " \t")
		if inComment || !strings.HasPrefix(trimmed, "#") || start == 0 && strings.HasPrefix(line, "#!") {
			inComment = endsInComment(line, inComment)
			if end < len(text) {
				end++
			}
			if active() {
				if bodyStart < 0 {
					bodyStart = start
				}
				bodyEnd = end
			} else if end > start {
				out.write(strings.Repeat("\n", strings.Count(text[start:end], "\n")), start, 0)
			}
			start = end
			continue
		}
		flush()
		// A directive continues over lines ending in a backslash.
		for strings.HasSuffix(text[start:end], "\\") && end < len(text) {
			end = lineEnd(text, end+1)
		}
		directive := text[start:end]
		if end < len(text) {
			end++
		}
		lines := strings.Count(text[start:end], "\n")
		sp := source.Span{Start: source.Pos(start + len(line) - len(trimmed)), End: source.Pos(start + len(strings.TrimRight(directive, " \t\r")))}
		// Continuation lines joined, each \ and newline as two spaces, so
		// offsets stay those of the script.
		joined := strings.ReplaceAll(directive, "\\\n", "  ")
		kept := ""
		if s.directive(f, joined, start, sp, &groups, active()) {
			kept = joined
		}
		out.write(kept+strings.Repeat("\n", lines), start, 0)
		start = end
	}
	flush()
	for _, g := range groups {
		s.diags.Add(g.at, "preprocess", "unterminated conditional: no #endif for this line").
			Hint("close each #if, #ifdef and #ifndef with #endif")
	}
	return out
}

// endsInComment reports whether a block comment is open at the end of line,
// given whether one was open at its start.
func endsInComment(line string, open bool) bool {
	for i := 0; i < len(line); i++ {
		switch {
		case open:
			if strings.HasPrefix(line[i:], "*/") {
				open = false
				i++
			}
		case strings.HasPrefix(line[i:], "//"):
			return false
		case strings.HasPrefix(line[i:], "/*"):
			open = true
			i++
		case line[i] == '"' || line[i] == '\'':
			i = quoteEnd(line, i) - 1
		}
	}
	return open
}

// expandBody expands the macros of text, which starts at byte offset base.
// After an error the output does not matter: Run returns only the error.
func (s *state) expandBody(text string, base int) []token {
	toks, err := expand(lex(text, base), s.macros)
	var ace *argCountError
	if errors.As(err, &ace) {
		length := len(ace.use.text)
		if ace.use.use != 0 {
			length = ace.use.use // a macro named in another's expansion
		}
		s.diags.Add(source.Span{Start: source.Pos(ace.use.pos), End: source.Pos(ace.use.pos + length)}, "preprocess", "%s", ace.msg).Hint("%s", ace.hint)
	}
	return toks
}

// directive carries out one directive line (its continuations joined) that
// starts at byte offset base, and reports whether the line stays in the
// output, as a kept #include does.
func (s *state) directive(f *source.File, line string, base int, sp source.Span, groups *[]group, active bool) bool {
	toks := lex(line, base)
	i := skipSpace(toks, 0, false) + 1 // past '#'
	i = skipSpace(toks, i, false)
	if i >= len(toks) {
		return false // the null directive
	}
	name := toks[i].text
	rest := toks[i+1:]
	top := func() *group {
		if len(*groups) == 0 {
			return nil
		}
		return &(*groups)[len(*groups)-1]
	}
	switch name {
	case "if", "ifdef", "ifndef":
		cond := false
		if active {
			cond = s.condition(name, rest, sp)
		}
		*groups = append(*groups, group{at: sp, outerActive: active, taken: cond, active: cond})
		return false
	case "elif", "else":
		g := top()
		switch {
		case g == nil:
			s.diags.Add(sp, "preprocess", "#%s without #if", name).Hint("a conditional opens with #if, #ifdef or #ifndef")
			return false
		case g.sawElse:
			s.diags.Add(sp, "preprocess", "#%s after #else", name).Hint("#else is the last branch of its conditional")
			return false
		}
		g.sawElse = name == "else"
		cond := !g.taken && g.outerActive && (name == "else" || s.condition("if", rest, sp))
		g.active = cond
		g.taken = g.taken || cond
		return false
	case "endif":
		if top() == nil {
			s.diags.Add(sp, "preprocess", "#endif without #if").Hint("a conditional opens with #if, #ifdef or #ifndef")
			return false
		}
		*groups = (*groups)[:len(*groups)-1]
		return false
	}
	if !active {
		return false // C ignores any other line in a skipped group
	}
	switch name {
	case "define":
		s.define(rest, sp)
	case "undef":
		j := skipSpace(rest, 0, false)
		if j >= len(rest) || rest[j].kind != kIdent {
			s.diags.Add(sp, "preprocess", "#undef needs a macro name").Hint("write #undef NAME")
			return false
		}
		delete(s.macros, rest[j].text)
	case "include":
		s.include(f, rest)
		return true
	case "error":
		msg := strings.TrimSpace(spell(rest))
		if u, ok := strings.CutPrefix(msg, `"`); ok && strings.HasSuffix(u, `"`) {
			msg = strings.TrimSuffix(u, `"`)
		}
		s.diags.Add(sp, "preprocess", "#error %s", msg).Hint("the script stops itself here; see the #if around this line")
	default:
		s.diags.Add(sp, "preprocess", "unknown preprocessor directive #%s", name).Hint("the supported directives are %s", supported)
	}
	return false
}

// condition evaluates the rest of an #if, #ifdef or #ifndef line.
func (s *state) condition(name string, rest []token, sp source.Span) bool {
	if name != "if" {
		j := skipSpace(rest, 0, false)
		if j >= len(rest) || rest[j].kind != kIdent || len(skipBlank(rest[j+1:])) > 0 {
			s.diags.Add(sp, "preprocess", "#%s needs one macro name", name).Hint("write #%s NAME", name)
			return false
		}
		_, ok := s.macros[rest[j].text]
		return ok == (name == "ifdef")
	}
	// defined X and defined(X) are replaced before expansion, so that a
	// macro named in them stays a name.
	var resolved []token
	for j := 0; j < len(rest); j++ {
		t := rest[j]
		if t.kind != kIdent || t.text != "defined" {
			resolved = append(resolved, t)
			continue
		}
		k := skipSpace(rest, j+1, false)
		paren := k < len(rest) && rest[k].text == "("
		if paren {
			k = skipSpace(rest, k+1, false)
		}
		if k >= len(rest) || rest[k].kind != kIdent {
			s.diags.Add(sp, "preprocess", "defined needs a macro name").Hint("write defined(NAME) or defined NAME")
			return false
		}
		macroName := rest[k].text
		if paren {
			close := skipSpace(rest, k+1, false)
			if close >= len(rest) || rest[close].text != ")" {
				s.diags.Add(sp, "preprocess", "missing ')' after defined(%s", macroName).Hint("write defined(NAME)")
				return false
			}
			k = close
		}
		value := "0"
		if _, ok := s.macros[macroName]; ok {
			value = "1"
		}
		resolved = append(resolved, token{kind: kNumber, text: value, pos: t.pos})
		j = k
	}
	expanded, err := expand(resolved, s.macros)
	var ace *argCountError
	if errors.As(err, &ace) {
		s.diags.Add(sp, "preprocess", "%s", ace.msg).Hint("%s", ace.hint)
		return false
	}
	var toks []token
	for _, t := range expanded {
		if t.kind != kSpace && t.kind != kNewline {
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 {
		s.diags.Add(sp, "preprocess", "#if needs an expression").Hint("write #if EXPRESSION, e.g. #if defined(NAME) && NAME > 1")
		return false
	}
	ev := &evaluator{toks: joinOperators(toks)}
	v, err := ev.evaluate()
	if err != nil {
		s.diags.Add(sp, "preprocess", "%v", err).Hint("an #if expression holds integers, defined(NAME), and C's arithmetic, comparison, logical, bitwise and ?: operators")
		return false
	}
	return v != 0
}

// joinOperators merges the one-character punctuation tokens the lexer
// produces into C's two-character operators.
func joinOperators(toks []token) []token {
	var out []token
	for _, t := range toks {
		if n := len(out); n > 0 && t.kind == kPunct && out[n-1].kind == kPunct && t.pos == out[n-1].pos+len(out[n-1].text) {
			switch out[n-1].text + t.text {
			case "||", "&&", "==", "!=", "<=", ">=", "<<", ">>":
				out[n-1].text += t.text
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// define records a #define.
func (s *state) define(rest []token, sp source.Span) {
	j := skipSpace(rest, 0, false)
	if j >= len(rest) || rest[j].kind != kIdent {
		s.diags.Add(sp, "preprocess", "#define needs a macro name").Hint("write #define NAME VALUE or #define NAME(PARAMS) VALUE")
		return
	}
	m := &macro{name: rest[j].text}
	j++
	if j < len(rest) && rest[j].text == "(" { // no blank: function-like
		m.function = true
		for j++; ; j++ {
			j = skipSpace(rest, j, false)
			if j < len(rest) && rest[j].text == ")" && len(m.params) == 0 {
				break
			}
			if j >= len(rest) || rest[j].kind != kIdent {
				s.diags.Add(sp, "preprocess", "expected a parameter name in the definition of %s", m.name).
					Hint("write #define %s(A, B) ...; variadic macros are not supported", m.name)
				return
			}
			m.params = append(m.params, rest[j].text)
			j = skipSpace(rest, j+1, false)
			if j < len(rest) && rest[j].text == ")" {
				break
			}
			if j >= len(rest) || rest[j].text != "," {
				s.diags.Add(sp, "preprocess", "expected ',' or ')' in the parameters of %s", m.name).Hint("write #define %s(A, B) ...", m.name)
				return
			}
		}
		j++
	}
	m.body = skipBlank(rest[j:])
	s.macros[m.name] = m
}

// include runs the header an #include names through the preprocessor for
// its macros. A malformed line or a header not found is left to the parser
// and check, which report them as before.
func (s *state) include(f *source.File, rest []token) {
	arg := strings.TrimSpace(spell(rest))
	system := len(arg) > 2 && arg[0] == '<' && arg[len(arg)-1] == '>'
	if !system && (len(arg) <= 2 || arg[0] != '"' || arg[len(arg)-1] != '"') || s.depth >= maxIncludeDepth {
		return
	}
	path, text, _ := ReadHeader(arg[1:len(arg)-1], system, f.Name, s.opts.SystemDirs)
	if path == "" {
		return
	}
	header := source.NewFile(path, string(text))
	inner := &state{opts: s.opts, macros: s.macros, diags: &source.Diagnostics{File: header}, depth: s.depth + 1}
	inner.file(header)
}

// headers are the headers ReadHeader read, by path.
var headers sync.Map

// ReadHeader finds the header path that file includes (as <path> when
// system) in includeDirs and reads it, once per process: the preprocessor
// and the checker read the same headers. It returns the path it found and
// the text, or "" and the directories it searched.
func ReadHeader(path string, system bool, file string, systemDirs []string) (string, []byte, []string) {
	dirs := includeDirs(path, system, file, systemDirs)
	for _, dir := range dirs {
		full := filepath.Join(dir, path)
		if text, ok := headers.Load(full); ok {
			return full, text.([]byte), nil
		}
		text, err := os.ReadFile(full)
		if err != nil {
			continue
		}
		headers.Store(full, text)
		return full, text, nil
	}
	return "", nil, dirs
}

// includeDirs returns the directories searched, in order, for the header
// path that file includes: systemDirs for <path>, the file's own directory
// then the current one for "path"; none but the root for an absolute path.
func includeDirs(path string, system bool, file string, systemDirs []string) []string {
	switch {
	case filepath.IsAbs(path):
		return []string{"/"}
	case system:
		return systemDirs
	}
	dirs := []string{filepath.Dir(file)}
	if dirs[0] != "." {
		dirs = append(dirs, ".")
	}
	return dirs
}
