package syntax

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ebtrace/ebtrace/internal/source"
)

// tokKind classifies a token.
type tokKind int

const (
	tEOF     tokKind = iota
	tIllegal         // a lexical error, already reported
	tIdent
	tKeyword // see keywords
	tInt
	tString
	tVar   // $name
	tMap   // @name or @
	tParam // $1, $2, ... (num holds N) or $# (num 0)
	tPunct // operators and punctuation; text says which
)

// token is one lexical unit of the script.
type token struct {
	kind tokKind
	text string // the source text
	sp   source.Span
	str  string // decoded value of a string, or the name of a variable or map
	num  uint64 // value of an integer
}

// keywords are the identifiers reserved for statements.
var keywords = map[string]bool{
	"if": true, "else": true, "while": true, "for": true, "unroll": true,
	"break": true, "continue": true, "return": true, "let": true, "macro": true,
}

// operators lists every operator and punctuation token, longest first so
// that the first match is the longest.
var operators = []string{
	"<<=", ">>=",
	"<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "++", "--", "->", "..",
	"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
	"+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "<", ">", "=",
	"?", ":", ".", ",", ";", "(", ")", "[", "]", "{", "}",
}

// scanner splits script text into tokens. Besides the ordinary token stream
// it can scan the raw text of an attach point, which follows different
// rules; the parser decides which is wanted.
type scanner struct {
	src string
	pos int
	// report receives lexical errors; nil discards them.
	report func(sp source.Span, hint, msg string)
}

func (s *scanner) errorf(start, end int, hint, format string, args ...any) {
	if s.report != nil {
		s.report(source.Span{Start: source.Pos(start), End: source.Pos(end)}, hint, fmt.Sprintf(format, args...))
	}
}

// at returns the byte i bytes past the current position, or 0 past the end.
func (s *scanner) at(i int) byte {
	if s.pos+i < len(s.src) {
		return s.src[s.pos+i]
	}
	return 0
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentChar(c byte) bool { return isLetter(c) || isDigit(c) }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// unhex returns the value of hex digit c.
func unhex(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

// skipSpace skips whitespace and comments.
func (s *scanner) skipSpace() {
	if s.pos == 0 && strings.HasPrefix(s.src, "#!") {
		// An interpreter line makes a script executable, as with bpftrace.
		for s.pos < len(s.src) && s.src[s.pos] != '\n' {
			s.pos++
		}
	}
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case isSpace(c):
			s.pos++
		case c == '/' && s.at(1) == '/':
			for s.pos < len(s.src) && s.src[s.pos] != '\n' {
				s.pos++
			}
		case c == '/' && s.at(1) == '*':
			end := strings.Index(s.src[s.pos+2:], "*/")
			if end < 0 {
				s.errorf(s.pos, len(s.src), "close the comment with */", "unterminated comment")
				s.pos = len(s.src)
				return
			}
			s.pos += 2 + end + 2
		default:
			return
		}
	}
}

// scan returns the next token.
func (s *scanner) scan() token {
	s.skipSpace()
	start := s.pos
	if start >= len(s.src) {
		return token{kind: tEOF, sp: source.Span{Start: source.Pos(start), End: source.Pos(start)}}
	}
	tok := token{kind: tIllegal}
	c := s.src[start]
	switch {
	case isLetter(c):
		tok.kind = tIdent
		s.identChars()
		if keywords[s.src[start:s.pos]] {
			tok.kind = tKeyword
		}
	case isDigit(c):
		tok = s.number()
	case c == '"':
		tok = s.stringLit()
	case c == '$':
		s.pos++
		if s.at(0) == '#' {
			s.pos++
			tok.kind = tParam
			break
		}
		s.identChars()
		tok.str = s.src[start+1 : s.pos]
		switch {
		case tok.str == "":
			s.errorf(start, s.pos, "scratch variables are written $name, positional parameters $1, $2, ... and their count $#", "expected a variable name after '$'")
		case isDigit(tok.str[0]):
			tok = s.positional(start, tok.str)
		default:
			tok.kind = tVar
		}
	case c == '@':
		s.pos++
		s.identChars()
		tok.str = s.src[start+1 : s.pos]
		if tok.str != "" && isDigit(tok.str[0]) {
			s.errorf(start, s.pos, "", "map name %s must start with a letter or '_'", shorten(s.src[start:s.pos]))
		} else {
			tok.kind = tMap
		}
	default:
		for _, op := range operators {
			if strings.HasPrefix(s.src[start:], op) {
				s.pos += len(op)
				tok.kind = tPunct
				break
			}
		}
		if tok.kind != tPunct {
			_, n := utf8.DecodeRuneInString(s.src[start:])
			s.pos += n
			s.errorf(start, s.pos, "", "unexpected character %q", s.src[start:s.pos])
		}
	}
	tok.text = s.src[start:s.pos]
	tok.sp = source.Span{Start: source.Pos(start), End: source.Pos(s.pos)}
	return tok
}

// positional decodes the positional parameter $digits; digits may have
// been followed by letters, which makes it malformed.
func (s *scanner) positional(start int, digits string) token {
	text := s.src[start:s.pos]
	n, err := strconv.ParseUint(digits, 10, 16)
	switch {
	case err != nil && strings.Trim(digits, "0123456789") != "":
		s.errorf(start, s.pos, "positional parameters are $1, $2, ...; variable names start with a letter or '_'", "malformed positional parameter %s", shorten(text))
	case err != nil:
		s.errorf(start, s.pos, "", "positional parameter %s is out of range", shorten(text))
	case n == 0:
		s.errorf(start, s.pos, "positional parameters start at $1; $# is their count", "there is no positional parameter $0")
	case digits[0] == '0':
		s.errorf(start, s.pos, fmt.Sprintf("write $%d", n), "positional parameter %s has a leading zero", shorten(text))
	default:
		return token{kind: tParam, num: n}
	}
	return token{kind: tIllegal}
}

func (s *scanner) identChars() {
	for s.pos < len(s.src) && isIdentChar(s.src[s.pos]) {
		s.pos++
	}
}

// number scans an integer literal (see intLiteral for its forms). After a
// single '.' the digits are a tuple index instead: $t.0.1 is ($t.0).1.
func (s *scanner) number() token {
	start := s.pos
	s.identChars()
	text := s.src[start:s.pos]
	if start > 0 && s.src[start-1] == '.' && (start < 2 || s.src[start-2] != '.') {
		if strings.Trim(text, "0123456789") != "" {
			s.errorf(start, s.pos, "tuple elements are numbered .0, .1, ...", "malformed tuple index %s", shorten(text))
			return token{kind: tIllegal}
		}
		v, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			v = math.MaxUint64 // the parser reports it as too large
		}
		return token{kind: tInt, num: v}
	}
	// A fraction or a signed exponent continues a decimal literal, so that
	// 2.5e3 and 1e-3 are one token, judged as a whole.
	if len(text) < 2 || text[1] != 'x' && text[1] != 'X' {
		for {
			sofar := s.src[start:s.pos]
			fraction := digitRun(sofar, 0, isDigit) == len(sofar) && s.at(0) == '.' && isDigit(s.at(1))
			last := sofar[len(sofar)-1]
			signedExp := (last == 'e' || last == 'E') && (s.at(0) == '+' || s.at(0) == '-') && isDigit(s.at(1))
			if !fraction && !signedExp {
				break
			}
			s.pos++
			s.identChars()
		}
	}
	v, err := intLiteral(s.src[start:s.pos])
	if err != nil {
		s.errorf(start+err.from, start+err.to, err.hint, "%s", err.msg)
		return token{kind: tIllegal}
	}
	return token{kind: tInt, num: v}
}

// escapeHint lists the escapes stringLit understands.
const escapeHint = `valid escapes are \n \t \r \\ \" \xNN and octal \NNN`

// stringLit scans a double-quoted string literal and decodes its escapes.
func (s *scanner) stringLit() token {
	start := s.pos
	s.pos++
	var b []byte
	for {
		if s.pos >= len(s.src) || s.src[s.pos] == '\n' {
			s.errorf(start, s.pos, `a string must be closed with '"' on the line it starts`, "unterminated string")
			return token{kind: tString, str: string(b)}
		}
		c := s.src[s.pos]
		if c == '"' {
			s.pos++
			return token{kind: tString, str: string(b)}
		}
		if c != '\\' {
			b = append(b, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.src) || s.src[s.pos+1] == '\n' {
			s.pos++
			continue
		}
		e := s.src[s.pos+1]
		switch e {
		case 'n':
			b = append(b, '\n')
			s.pos += 2
		case 't':
			b = append(b, '\t')
			s.pos += 2
		case 'r':
			b = append(b, '\r')
			s.pos += 2
		case '\\', '"':
			b = append(b, e)
			s.pos += 2
		case 'x':
			n, v := 0, 0
			for n < 2 && isHex(s.at(2+n)) {
				v = v*16 + unhex(s.at(2+n))
				n++
			}
			if n == 0 {
				s.errorf(s.pos, s.pos+2, escapeHint, `\x must be followed by hex digits`)
			}
			b = append(b, byte(v))
			s.pos += 2 + n
		default:
			if '0' <= e && e <= '7' {
				n, v := 0, 0
				for n < 3 && '0' <= s.at(1+n) && s.at(1+n) <= '7' {
					v = v*8 + int(s.at(1+n)-'0')
					n++
				}
				if v > 0xff {
					s.errorf(s.pos, s.pos+1+n, "an octal escape is at most \\377", `octal escape %s is out of range`, s.src[s.pos:s.pos+1+n])
				}
				b = append(b, byte(v))
				s.pos += 1 + n
				continue
			}
			_, n := utf8.DecodeRuneInString(s.src[s.pos+1:])
			s.errorf(s.pos, s.pos+1+n, escapeHint, "unknown escape sequence %s", strconv.Quote(s.src[s.pos:s.pos+1+n]))
			s.pos += 1 + n
		}
	}
}

// scanAttach scans the raw text of one attach point starting at the current
// position: a run of non-space characters other than ',' '{' '}', where '/'
// belongs to the attach point only where a path starts (right after ':', or
// after "." or ".." there) or within a path (a '/' already seen since the
// last ':'); elsewhere it opens the predicate. Quoted segments are kept
// verbatim. It reports false after reporting an unterminated quote.
func (s *scanner) scanAttach() (raw string, sp source.Span, ok bool) {
	start := s.pos
	segment := start // where the text after the last ':' starts
	inPath := false
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		if isSpace(c) || c == ',' || c == '{' || c == '}' {
			break
		}
		switch c {
		case '"':
			q := s.pos
			s.pos++
			for s.pos < len(s.src) && s.src[s.pos] != '"' && s.src[s.pos] != '\n' {
				if s.src[s.pos] == '\\' && s.pos+1 < len(s.src) && s.src[s.pos+1] != '\n' {
					s.pos++
				}
				s.pos++
			}
			if s.pos >= len(s.src) || s.src[s.pos] != '"' {
				s.errorf(q, s.pos, `close the quoted part with '"'`, "unterminated quote in attach point")
				return "", source.Span{}, false
			}
		case ':':
			inPath = false
			segment = s.pos + 1
		case '/':
			if seg := s.src[segment:s.pos]; segment > start && (seg == "" || seg == "." || seg == "..") || inPath {
				inPath = true
			} else {
				return s.src[start:s.pos], source.Span{Start: source.Pos(start), End: source.Pos(s.pos)}, true
			}
		}
		s.pos++
	}
	return s.src[start:s.pos], source.Span{Start: source.Pos(start), End: source.Pos(s.pos)}, true
}

// skipSemicolon moves past the ';' that may end a declaration, and the
// space before it.
func (s *scanner) skipSemicolon() {
	s.skipSpace()
	if s.at(0) == ';' {
		s.pos++
	}
}
