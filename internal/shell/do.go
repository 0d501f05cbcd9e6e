package shell

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// ErrQuit is what Do returns for `.quit`: the caller closes the session.
var ErrQuit = errors.New("quit")

// Help lists the commands.
const Help = `Type a probe block to attach it, e.g.
    tracepoint:syscalls:sys_enter_openat { @opens[comm] = count(); }
or a statement to run it at once, as BEGIN would: print(@x), clear(@x),
printf("%d\n", 1 + 2), or a bare @x to print it. Commands (. or :):
    .probes           the probe blocks, with hits and ns per event
    .detach N         detach probe block #N
    .print [@map]     print one map, or every map
    .clear @map       delete every element of a map
    .zero @map        set every value of a map to zero
    .pause            stop showing printf output; .resume shows it again
    .save FILE        write the session's probes as a script for ebtrace FILE
    .load FILE        add the probe blocks of a script file
    .help             this text
    .quit             run END blocks, print the maps, detach everything
`

// Do runs one complete input: a command, probe blocks or statements. What
// it has to say goes to w; script problems come back as
// *source.Diagnostics.
func (s *Session) Do(input string, w io.Writer) error {
	input = strings.TrimSpace(input)
	switch {
	case input == "":
		return nil
	case input[0] == '.' || input[0] == ':':
		return s.command(input[1:], w)
	case isStatement(input):
		return s.Exec(input)
	}
	lines, err := s.Add(input)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return err
}

// isStatement tells statements from probe blocks: a block parses as a
// script.
func isStatement(input string) bool {
	return !parses(input) && (bareMap().MatchString(input) || parses("BEGIN { "+input+" }"))
}

func parses(text string) bool {
	_, err := syntax.Parse(source.NewFile("input", text))
	return err == nil
}

func (s *Session) command(line string, w io.Writer) error {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "probes":
		ps, err := s.Probes()
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintln(w, "no probes; type a probe block to attach one")
		}
		for _, p := range ps {
			switch p.Kind {
			case probe.Event:
				per := "-"
				if p.Hits > 0 {
					per = fmt.Sprintf("%d ns/event", int64(p.Runtime)/int64(p.Hits))
				}
				fmt.Fprintf(w, "#%d  %s  %d hits  %s\n", p.ID, p.Name, p.Hits, per)
			case probe.Begin:
				verb := "ran"
				if !p.Ran {
					verb = "did not run"
				}
				fmt.Fprintf(w, "#%d  %s  %s\n", p.ID, p.Name, verb)
			default:
				fmt.Fprintf(w, "#%d  %s  runs at .quit\n", p.ID, p.Name)
			}
		}
		return nil
	case "detach":
		id, err := atoi(arg)
		if err != nil {
			return err
		}
		if err := s.Detach(id); err != nil {
			return err
		}
		fmt.Fprintf(w, "detached #%d\n", id)
		return nil
	case "print":
		return s.Print(arg)
	case "clear", "zero":
		if arg == "" {
			return fmt.Errorf(".%s needs a map: .%s @name", name, name)
		}
		return s.Clear(arg, name == "zero")
	case "pause":
		s.Pause()
		return nil
	case "resume":
		if n := s.Resume(); n > 0 {
			fmt.Fprintf(w, "%s not shown while paused\n", source.Count(n, "line"))
		}
		return nil
	case "save":
		if arg == "" {
			return errors.New(".save needs a file name")
		}
		if err := s.Save(arg); err != nil {
			return err
		}
		fmt.Fprintf(w, "saved %s to %s\n", source.Count(len(s.entries), "probe block"), arg)
		return nil
	case "load":
		if arg == "" {
			return errors.New(".load needs a file name")
		}
		lines, err := s.Load(arg)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		return err
	case "help", "h", "?":
		io.WriteString(w, Help)
		return nil
	case "quit", "q", "exit":
		return ErrQuit
	}
	return fmt.Errorf("no command .%s; .help lists them", name)
}

// Complete reports whether input is a whole input: its braces, brackets
// and parentheses are closed and no string or comment is left open. The
// line editor reads more lines until it is.
func Complete(input string) bool {
	depth := 0
	for i := 0; i < len(input); i++ {
		switch c := input[i]; c {
		case '"':
			// A string ends at its line's end, as the scanner reads it: one
			// left open is an error to show, not a reason to wait for more.
			for i++; i < len(input) && input[i] != '"' && input[i] != '\n'; i++ {
				if input[i] == '\\' && i+1 < len(input) && input[i+1] != '\n' {
					i++
				}
			}
			if i >= len(input) {
				return false
			}
			if input[i] == '\n' {
				i-- // the newline is seen again, outside the string
			}
		case '/':
			if strings.HasPrefix(input[i:], "//") {
				end := strings.IndexByte(input[i:], '\n')
				if end < 0 {
					return depth <= 0
				}
				i += end
			} else if strings.HasPrefix(input[i:], "/*") {
				end := strings.Index(input[i+2:], "*/")
				if end < 0 {
					return false
				}
				i += end + 3
			}
		case '{', '(', '[':
			depth++
		case '}', ')', ']':
			depth--
		}
	}
	return depth <= 0
}
