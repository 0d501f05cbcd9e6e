package preprocess

import "strings"

// kind classifies a preprocessing token.
type kind int

const (
	kSpace   kind = iota // blanks and comments
	kNewline             // one line break
	kIdent               // a name the preprocessor may expand
	kVar                 // a $variable or @map: a script name, never a macro
	kNumber
	kString // a "string" or 'c' literal, copied as written
	kPunct
)

// token is one preprocessing token. hide holds the macros whose expansion
// produced it, which may not expand it again (C's rule against recursion).
type token struct {
	kind kind
	text string
	hide []string
	pos  int // byte offset in the script: where it, or the macro use it came from, is
	use  int // for a token from an expansion, the length of the macro use at pos
}

func (t token) hidden(name string) bool {
	for _, h := range t.hide {
		if h == name {
			return true
		}
	}
	return false
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lex splits text, which starts at byte offset base of the script, into
// tokens. Comments and string literals stay whole, so nothing inside them
// is expanded; an unterminated one runs to the end.
func lex(text string, base int) []token {
	var out []token
	for i := 0; i < len(text); {
		c := text[i]
		start := i
		var k kind
		switch {
		case c == '\n':
			i, k = i+1, kNewline
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			for i < len(text) && strings.IndexByte(" \t\r\f\v", text[i]) >= 0 {
				i++
			}
			k = kSpace
		case strings.HasPrefix(text[i:], "//"):
			i = lineEnd(text, i)
			k = kSpace
		case strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				i = len(text)
			} else {
				i += end + 4
			}
			k = kSpace
		case c == '"' || c == '\'':
			i = quoteEnd(text, i)
			k = kString
		case isIdentStart(c):
			for i < len(text) && isIdentChar(text[i]) {
				i++
			}
			k = kIdent
		case (c == '$' || c == '@') && i+1 < len(text) && isIdentChar(text[i+1]):
			i++
			for i < len(text) && isIdentChar(text[i]) {
				i++
			}
			k = kVar
		case isDigit(c) || c == '.' && i+1 < len(text) && isDigit(text[i+1]):
			for i++; i < len(text); i++ {
				if (text[i] == '+' || text[i] == '-') && strings.IndexByte("eEpP", text[i-1]) >= 0 && !strings.HasPrefix(text[start:], "0x") && !strings.HasPrefix(text[start:], "0X") {
					continue
				}
				if !isIdentChar(text[i]) && text[i] != '.' {
					break
				}
			}
			k = kNumber
		case strings.HasPrefix(text[i:], "##"):
			i, k = i+2, kPunct
		default:
			i, k = i+1, kPunct
		}
		out = append(out, token{kind: k, text: text[start:i], pos: base + start})
	}
	return out
}

// lineEnd returns the index of the newline ending the line holding i, or len(text).
func lineEnd(text string, i int) int {
	if n := strings.IndexByte(text[i:], '\n'); n >= 0 {
		return i + n
	}
	return len(text)
}

// quoteEnd returns the index just past the literal opening at i; a literal
// stops at an unescaped line break.
func quoteEnd(text string, i int) int {
	q := text[i]
	for i++; i < len(text); i++ {
		switch text[i] {
		case '\\':
			i++
		case q:
			return i + 1
		case '\n':
			return i
		}
	}
	return len(text)
}

// skipSpace returns the index of the first token at or after i that is
// neither blank nor, when lines is set, a line break.
func skipSpace(toks []token, i int, lines bool) int {
	for i < len(toks) && (toks[i].kind == kSpace || lines && toks[i].kind == kNewline) {
		i++
	}
	return i
}

func spell(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.text)
	}
	return b.String()
}
