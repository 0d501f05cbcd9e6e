package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/chzyer/readline"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/shell"
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

// runShell is `ebtrace shell`.
func runShell(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			io.WriteString(stdout, shellUsage)
			return 0
		}
		return badUsage(stderr, "ebtrace shell", fmt.Errorf("ebtrace shell takes no arguments, not %q", args[0]))
	}
	reg := all.Registry()
	env := newEnv(stderr, 0)
	completer := &shellCompleter{c: &shell.Completer{Registry: reg, Env: env}}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 shellPrompt,
		HistoryFile:            historyFile(),
		DisableAutoSaveHistory: true,
		AutoComplete:           completer,
		InterruptPrompt:        "^C",
	})
	if err != nil {
		return fail(stderr, err)
	}
	defer rl.Close()
	out, errOut := rl.Stdout(), rl.Stderr()
	s, err := shell.New(shell.Options{
		Registry: reg, Env: env, Out: out, Warn: errOut,
		Config: load.Config{StartNs: monotonicNow(), TAIOffset: kernel.TAIOffset()},
		Compile: compile.Options{
			Plan:           plan.DefaultOptions,
			Check:          check.Options{Getenv: os.Getenv},
			TaskCommOffset: kernel.TaskCommOffset,
			KernelFuncID:   kernel.KernelFuncID,
			PIDNamespace:   kernel.PIDNamespace,
		},
	})
	if err != nil {
		return fail(errOut, err)
	}
	completer.c.Session = s
	// A Ctrl-C while a block compiles or a map prints (the terminal is not
	// in raw mode then) must not end the session.
	signal.Ignore(syscall.SIGINT)
	go func() {
		<-s.Ended()
		rl.Close()
	}()
	fmt.Fprintln(out, "ebtrace shell: type a probe block, a statement or .help; Ctrl-D quits")
	code := 0
	for {
		err := shellInput(rl, completer, s, out, errOut)
		if errors.Is(err, io.EOF) || errors.Is(err, shell.ErrQuit) {
			break
		}
	}
	if err := s.Close(); err != nil {
		code = fail(errOut, err)
	}
	return code
}

// shellInput reads one whole input, over several lines while a block is
// open, and runs it. It returns io.EOF at Ctrl-D and shell.ErrQuit at
// .quit; the session's own errors are reported here.
func shellInput(rl *readline.Instance, completer *shellCompleter, s *shell.Session, out, errOut io.Writer) error {
	var pending strings.Builder
	defer func() { completer.pending = "" }()
	rl.SetPrompt(shellPrompt)
	for {
		line, err := rl.Readline()
		switch {
		case errors.Is(err, readline.ErrInterrupt) && pending.Len() == 0:
			s.Pause()
			fmt.Fprintln(out, "printf output stopped; .resume shows it again")
			return nil
		case errors.Is(err, readline.ErrInterrupt):
			return nil // the block being typed is dropped
		case err != nil:
			return err
		}
		pending.WriteString(line)
		pending.WriteString("\n")
		completer.pending = pending.String()
		if shell.Complete(pending.String()) {
			break
		}
		rl.SetPrompt(shellContinuing)
	}
	input := strings.TrimSpace(pending.String())
	if input == "" {
		return nil
	}
	// One line per input in the history file, so that a block comes back
	// whole.
	rl.SaveHistory(strings.Join(strings.Fields(input), " "))
	err := s.Do(input, out)
	if err != nil && !errors.Is(err, shell.ErrQuit) {
		fail(errOut, err)
		return nil
	}
	return err
}

// historyFile is ~/.ebtrace_history; no history without a home.
func historyFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ebtrace_history")
}

// shellCompleter adapts shell.Completer to readline.
type shellCompleter struct {
	c       *shell.Completer
	pending string // the input's earlier lines
}

func (sc *shellCompleter) Do(line []rune, pos int) ([][]rune, int) {
	word, words := sc.c.Complete(sc.pending, string(line[:pos]))
	var out [][]rune
	for _, w := range words {
		out = append(out, []rune(w[len(word):]))
	}
	return out, len([]rune(word))
}
