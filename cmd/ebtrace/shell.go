package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/term"

	"github.com/ebtrace/ebtrace"
)

const shellUsage = `usage: ebtrace shell

An interactive session on the live kernel: each probe block typed is
compiled, verified and attached at once, sharing its maps with the blocks
before it; statements (print(@x), clear(@x), printf(...), a bare @x) run at
once. .help lists the commands. History is kept in ~/.ebtrace_history.
Ctrl-C stops printf output (.resume shows it again) or drops the block
being typed; Ctrl-D quits, as .quit does: END runs and the maps print.
`

const (
	shellPrompt     = "ebtrace> "
	shellContinuing = "     ... "
)

// runShell is `ebtrace shell`. Line editing is golang.org/x/term's: it
// redraws the prompt around output that arrives while a line is typed, and
// it pulls in no cgo (a line editor importing package net would make
// ebtrace a dynamically linked binary).
func runShell(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			io.WriteString(stdout, shellUsage)
			return 0
		}
		return badUsage(stderr, "ebtrace shell", fmt.Errorf("ebtrace shell takes no arguments, not %q", args[0]))
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return fail(stderr, errors.New("ebtrace shell needs a terminal; for a script, ebtrace FILE"))
	}
	// Raw mode for the whole session: Ctrl-C is a key, never SIGINT, even
	// while a block compiles.
	state, err := term.MakeRaw(fd)
	if err != nil {
		return fail(stderr, err)
	}
	defer term.Restore(fd, state)
	keys := newKeys(os.Stdin)
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{keys, os.Stdout}, shellPrompt)
	hist := loadHistory(historyFile())
	t.History = hist
	s, err := ebtrace.NewShell(ebtrace.ShellOptions{Out: t, Log: t, Getenv: os.Getenv})
	if err != nil {
		return fail(t, err)
	}
	in := &shellInput{t: t, keys: keys, hist: hist, s: s}
	t.AutoCompleteCallback = in.complete
	go func() {
		<-s.Ended()
		keys.end()
	}()
	fmt.Fprintln(t, "ebtrace shell: type a probe block, a statement or .help; Ctrl-D quits")
	for {
		if err := in.next(); errors.Is(err, io.EOF) || errors.Is(err, ebtrace.ErrQuit) {
			break
		}
	}
	if err := s.Close(); err != nil {
		return fail(t, err)
	}
	return 0
}

// shellInput reads the session's inputs.
type shellInput struct {
	t       *term.Terminal
	keys    *keys
	hist    *history
	s       *ebtrace.Shell
	pending string // the lines of a block typed so far
}

// next reads one whole input, over several lines while a block is open,
// and runs it. It returns io.EOF at Ctrl-D and ebtrace.ErrQuit at .quit;
// the session's own errors are reported here.
func (in *shellInput) next() error {
	in.pending = ""
	in.t.SetPrompt(shellPrompt)
	for {
		line, err := in.t.ReadLine()
		if err != nil {
			return err
		}
		if in.keys.interrupted() {
			if in.pending == "" && line == "" {
				in.s.Pause()
				fmt.Fprintln(in.t, "printf output stopped; .resume shows it again")
			}
			return nil // the input being typed is dropped
		}
		in.pending += line + "\n"
		if ebtrace.InputComplete(in.pending) {
			break
		}
		in.t.SetPrompt(shellContinuing)
	}
	input := strings.TrimSpace(in.pending)
	if input == "" {
		return nil
	}
	in.hist.record(input)
	err := in.s.Do(input, in.t)
	if err != nil && !errors.Is(err, ebtrace.ErrQuit) {
		fail(in.t, err)
		return nil
	}
	return err
}

// complete is the terminal's Tab: it extends the word before the cursor
// by what every candidate shares, and lists the candidates when that is
// nothing.
func (in *shellInput) complete(line string, pos int, key rune) (string, int, bool) {
	if key != '\t' {
		return "", 0, false
	}
	word, words := in.s.Complete(in.pending, line[:pos])
	if len(words) == 0 {
		return "", 0, false
	}
	common := words[0]
	for _, w := range words[1:] {
		for !strings.HasPrefix(w, common) {
			common = common[:len(common)-1]
		}
	}
	if common == word {
		fmt.Fprintln(in.t, strings.Join(words, "  "))
		return line, pos, true
	}
	return line[:pos-len(word)] + common + line[pos:], pos - len(word) + len(common), true
}

// keys reads the terminal's keys for term.Terminal. It turns Ctrl-C into
// Enter and notes it: the Terminal would report Ctrl-C as io.EOF, as it
// does Ctrl-D, and read the same key again at its next line. It ends the
// input when the session ends (a probe called exit()).
type keys struct {
	data  chan []byte
	done  chan struct{}
	intr  atomic.Bool
	ended atomic.Bool
	rest  []byte
}

func newKeys(r io.Reader) *keys {
	k := &keys{data: make(chan []byte), done: make(chan struct{})}
	go func() {
		for {
			buf := make([]byte, 256)
			n, err := r.Read(buf)
			if err != nil {
				close(k.data)
				return
			}
			k.data <- buf[:n]
		}
	}()
	return k
}

func (k *keys) Read(p []byte) (int, error) {
	if len(k.rest) == 0 {
		select {
		case b, ok := <-k.data:
			if !ok {
				return 0, io.EOF
			}
			k.rest = b
		case <-k.done:
			return 0, io.EOF
		}
	}
	n := copy(p, k.rest)
	for i, c := range p[:n] {
		if c == 3 {
			p[i] = '\r'
			k.intr.Store(true)
		}
	}
	k.rest = k.rest[n:]
	return n, nil
}

// interrupted reports, once, whether Ctrl-C was typed.
func (k *keys) interrupted() bool { return k.intr.Swap(false) }

func (k *keys) end() {
	if !k.ended.Swap(true) {
		close(k.done)
	}
}

// history is the terminal's history, kept in a file across sessions. The
// terminal offers it every line; it keeps whole inputs only, which next
// records.
type history struct {
	path    string
	entries []string // oldest first
}

func loadHistory(path string) *history {
	h := &history{path: path}
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				continue
			}
			// Older files hold plain lines, kept as they are.
			if input, err := strconv.Unquote(line); err == nil {
				line = input
			}
			h.entries = append(h.entries, line)
		}
	}
	return h
}

// Add drops the line: a block typed over several lines is recorded whole.
func (h *history) Add(string) {}

func (h *history) Len() int { return len(h.entries) }

func (h *history) At(i int) string { return h.entries[len(h.entries)-1-i] }

// record adds input to the history and its file, as one quoted line: a
// block typed over several lines comes back whole, its spaces and
// comments as typed.
func (h *history) record(input string) {
	h.entries = append(h.entries, input)
	if h.path == "" {
		return
	}
	if f, err := os.OpenFile(h.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, strconv.Quote(input))
		f.Close()
	}
}

// historyFile is ~/.ebtrace_history; no history file without a home.
func historyFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ebtrace_history")
}
