package preprocess

import (
	"fmt"
	"strings"
)

// macro is one #define: object-like when params is nil and function-like
// otherwise (possibly with no parameters).
type macro struct {
	name     string
	function bool
	params   []string
	body     []token // without leading and trailing blanks
}

// argCountError is a function-like macro called with the wrong number of
// arguments, or with no closing parenthesis.
type argCountError struct {
	msg  string
	hint string
	use  token // the macro's name where it is called
}

func (e *argCountError) Error() string { return e.msg }

// expand macro-expands toks. It follows C's rescanning rule: a
// replacement is pushed back in front of the remaining input, so it may
// combine with what follows, and each token remembers (in its hide set)
// the macros it came from so none expands into itself forever.
func expand(toks []token, macros map[string]*macro) ([]token, error) {
	// The tokens still to read are buf[i:]. A replacement goes back in
	// front of them, into the room the tokens it replaces leave when it
	// fits, so a long text with many uses is not copied for each.
	buf, i := append([]token(nil), toks...), 0
	push := func(repl []token, from int) {
		if len(repl) <= from {
			i = from - len(repl)
			copy(buf[i:], repl)
			return
		}
		buf, i = append(repl, buf[from:]...), 0
	}
	var out []token
	for i < len(buf) {
		in := buf[i:]
		t := in[0]
		m := macros[t.text]
		if t.kind != kIdent || m == nil || t.hidden(t.text) {
			out = append(out, t)
			i++
			continue
		}
		if !m.function {
			repl, _ := substitute(m, nil, append(append([]string(nil), t.hide...), m.name), t, len(t.text), macros)
			push(repl, i+1)
			continue
		}
		open := skipSpace(in, 1, true)
		if open >= len(in) || in[open].text != "(" {
			out = append(out, t)
			i++
			continue
		}
		args, newlines, end, err := collectArgs(in, open)
		if err != nil {
			return nil, err
		}
		if len(m.params) == 0 && len(args) == 1 && len(skipBlank(args[0])) == 0 {
			args = nil
		}
		if len(args) != len(m.params) {
			return nil, &argCountError{
				use:  t,
				msg:  fmt.Sprintf("macro %s takes %d argument%s, given %d", m.name, len(m.params), plural(len(m.params)), len(args)),
				hint: fmt.Sprintf("it is defined as %s(%s)", m.name, strings.Join(m.params, ", ")),
			}
		}
		hide := intersect(t.hide, in[end].hide)
		use := len(t.text)
		if in[end].use == 0 && in[end].pos > t.pos {
			use = in[end].pos + 1 - t.pos
		}
		repl, err := substitute(m, args, append(hide, m.name), t, use, macros)
		if err != nil {
			return nil, err
		}
		// Line breaks inside the call, and between the name and its '(',
		// go after its replacement, so the lines below keep their numbers.
		for _, b := range in[1:open] {
			newlines = lineBreaks(newlines, b)
		}
		repl = append(repl, newlines...)
		push(repl, i+end+1)
	}
	return out, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// collectArgs splits the call whose '(' is at in[open] into its arguments,
// returning them, the line breaks they spanned and the index of ')'.
func collectArgs(in []token, open int) (args [][]token, newlines []token, end int, err error) {
	depth := 0
	var cur []token
	for i := open + 1; i < len(in); i++ {
		t := in[i]
		switch {
		case t.kind == kNewline || t.kind == kSpace && strings.Contains(t.text, "\n"):
			newlines = lineBreaks(newlines, t)
			t = token{kind: kSpace, text: " ", pos: t.pos, use: t.use}
		case t.text == "(":
			depth++
		case t.text == ")" && depth > 0:
			depth--
		case t.text == ")":
			return append(args, cur), newlines, i, nil
		case t.text == "," && depth == 0:
			args = append(args, cur)
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	return nil, nil, 0, &argCountError{use: in[0], msg: fmt.Sprintf("unterminated call of macro %s", in[0].text), hint: "close its argument list with ')' before the end of the script"}
}

// lineBreaks appends a newline token to nl for each line break in t.
func lineBreaks(nl []token, t token) []token {
	for j := range len(t.text) {
		if t.text[j] == '\n' {
			nl = append(nl, token{kind: kNewline, text: "\n", pos: t.pos + j, use: t.use})
		}
	}
	return nl
}

// quoteEscaper escapes a string literal for the # operator.
var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// intersect returns, in a new slice, the strings in both a and b.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// skipBlank trims blanks from both ends of toks.
func skipBlank(toks []token) []token {
	for len(toks) > 0 && toks[0].kind == kSpace {
		toks = toks[1:]
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == kSpace {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// substitute builds a macro's replacement: parameters become their
// arguments (fully expanded, except next to # and ##), #param becomes a
// string literal, and a ## b pastes two tokens into one. Every token of the
// result gets hide as its hide set and, as its position, the macro's use:
// name, the macro's name, and use bytes from it; or, when name itself came
// from an expansion, that expansion's use.
func substitute(m *macro, args [][]token, hide []string, name token, use int, macros map[string]*macro) ([]token, error) {
	if name.use != 0 {
		use = name.use
	}
	param := func(t token) int {
		if t.kind != kIdent {
			return -1
		}
		for i, p := range m.params {
			if p == t.text {
				return i
			}
		}
		return -1
	}
	var out []token
	body := m.body
	for i := 0; i < len(body); i++ {
		t := body[i]
		switch {
		case m.function && t.text == "#":
			j := skipSpace(body, i+1, false)
			p := -1
			if j < len(body) {
				p = param(body[j])
			}
			if p >= 0 {
				out = append(out, token{kind: kString, text: stringize(args[p])})
				i = j
				continue
			}
			out = append(out, t)
		case t.text == "##" && len(out) > 0:
			for len(out) > 0 && out[len(out)-1].kind == kSpace {
				out = out[:len(out)-1]
			}
			j := skipSpace(body, i+1, false)
			if j >= len(body) {
				continue
			}
			right := []token{body[j]}
			if p := param(body[j]); p >= 0 {
				right = skipBlank(args[p])
			}
			i = j
			if len(out) == 0 || len(right) == 0 {
				out = append(out, right...)
				continue
			}
			pasted := lex(out[len(out)-1].text+right[0].text, 0)
			out = append(append(out[:len(out)-1], pasted...), right[1:]...)
		case param(t) >= 0:
			arg := skipBlank(args[param(t)])
			if j := skipSpace(body, i+1, false); j < len(body) && body[j].text == "##" {
				out = append(out, arg...)
				continue
			}
			x, err := expand(arg, macros)
			if err != nil {
				return nil, err
			}
			out = append(out, x...)
		default:
			out = append(out, t)
		}
	}
	res := make([]token, len(out))
	for i, t := range out {
		res[i] = token{kind: t.kind, text: t.text, hide: append(append([]string(nil), t.hide...), hide...), pos: name.pos, use: use}
	}
	return res, nil
}

// stringize spells an argument as a string literal: blanks collapse to one
// space, and quotes and backslashes inside literals are escaped.
func stringize(arg []token) string {
	var b strings.Builder
	b.WriteByte('"')
	space := false
	for _, t := range skipBlank(arg) {
		if t.kind == kSpace || t.kind == kNewline {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if t.kind == kString {
			b.WriteString(quoteEscaper.Replace(t.text))
		} else {
			b.WriteString(t.text)
		}
	}
	b.WriteByte('"')
	return b.String()
}
