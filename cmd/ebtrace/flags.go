package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Every subcommand describes its options as a table of flags; one parser
// reads any table and one writer turns it into the OPTIONS of the usage
// text, so a mistake gets the same message in every subcommand and the
// help cannot drift from what is parsed.

// A flag is one row of a subcommand's table.
type flag struct {
	short byte   // the letter after '-', or 0
	long  string // the name after "--", or ""
	// value names the flag's value in the usage text ("PID"); a switch
	// may name the arguments it goes with ("[PATTERN]").
	value string
	help  string // "\n" starts a line aligned under the first
	// Exactly one of on and set is non-nil: on for a switch, set for a
	// flag that takes a value, which set checks and stores.
	on  *bool
	set func(string) error
}

// The kinds of value a flag can take. Each returns a setter whose error
// says what was wanted; the parser puts the flag and value in front.

// text stores the value as given.
func text(p *string) func(string) error {
	return func(v string) error {
		*p = v
		return nil
	}
}

// each appends every value to *p, for a flag that may repeat.
func each(p *[]string) func(string) error {
	return func(v string) error {
		*p = append(*p, v)
		return nil
	}
}

// fileName stores a file name, which cannot be empty.
func fileName(p *string) func(string) error {
	return func(v string) error {
		if v == "" {
			return errors.New("want a file name")
		}
		*p = v
		return nil
	}
}

// processID stores a process ID: a positive decimal number.
func processID(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errors.New("want a process ID")
		}
		*p = n
		return nil
	}
}

// oneOf stores one of choices.
func oneOf(p *string, choices ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(choices, v) {
			last := len(choices) - 1
			return fmt.Errorf("want %s or %s", strings.Join(choices[:last], ", "), choices[last])
		}
		*p = v
		return nil
	}
}

// byteSize stores a buffer size in bytes, read by parseBufferSize.
func byteSize(p *int) func(string) error {
	return func(v string) error {
		n, err := parseBufferSize(v)
		*p = n
		return err
	}
}

// parseFlags reads args against table with bpftrace's syntax: short flags
// bundle (-lv) and take a value attached (-p123) or as the next argument
// (-p 123); long flags take theirs as --name=value or --name value; "--"
// ends the flags and "-" (standard input) is an argument. It returns the
// arguments that are not flags, in order.
func parseFlags(table []flag, args []string) ([]string, error) {
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		// take gives flag f, spelled name, its value: v when attached,
		// else the next argument.
		take := func(f flag, name, v string, attached bool) error {
			if !attached {
				if i+1 >= len(args) {
					return fmt.Errorf("option %s needs a value", name)
				}
				i++
				v = args[i]
			}
			return f.store(name, v)
		}
		switch {
		case a == "--":
			return append(positional, args[i+1:]...), nil
		case a == "-" || !strings.HasPrefix(a, "-"):
			positional = append(positional, a)
		case strings.HasPrefix(a, "--"):
			name, v, attached := strings.Cut(a, "=")
			f, ok := lookup(table, func(f flag) bool { return f.long != "" && "--"+f.long == name })
			switch {
			case !ok:
				return nil, fmt.Errorf("unknown option %s", name)
			case f.on != nil && attached:
				return nil, fmt.Errorf("option %s takes no value", name)
			case f.on != nil:
				*f.on = true
			default:
				if err := take(f, name, v, attached); err != nil {
					return nil, err
				}
			}
		default:
			for j := 1; j < len(a); j++ {
				f, ok := lookup(table, func(f flag) bool { return f.short != 0 && f.short == a[j] })
				if !ok {
					return nil, fmt.Errorf("unknown option -%c", a[j])
				}
				if f.on != nil {
					*f.on = true
					continue
				}
				// The rest of the argument, if any, is the value.
				if err := take(f, "-"+a[j:j+1], a[j+1:], j+1 < len(a)); err != nil {
					return nil, err
				}
				break
			}
		}
	}
	return positional, nil
}

// lookup returns the flag of table that match accepts.
func lookup(table []flag, match func(flag) bool) (flag, bool) {
	if i := slices.IndexFunc(table, match); i >= 0 {
		return table[i], true
	}
	return flag{}, false
}

// store hands v to the flag's setter; name is the flag as it was spelled.
func (f flag) store(name, v string) error {
	if err := f.set(v); err != nil {
		return fmt.Errorf("%s %s: %w", name, quoteIfNeeded(v), err)
	}
	return nil
}

// quoteIfNeeded quotes a value that would not read as one word in a
// message: an empty one, or one with spaces or unprintable characters.
func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }) {
		return strconv.Quote(v)
	}
	return v
}

// synopsis is how the usage text names the flag: "-h, --help", "-p PID".
func (f flag) synopsis() string {
	var names []string
	if f.short != 0 {
		names = append(names, "-"+string(f.short))
	}
	if f.long != "" {
		names = append(names, "--"+f.long)
	}
	s := strings.Join(names, ", ")
	if f.value != "" {
		s += " " + f.value
	}
	return s
}

// usageText is a subcommand's help: head, the OPTIONS written from table,
// then tail. The help of each flag starts in one column; a synopsis too
// wide for it gets a line of its own.
func usageText(head string, table []flag, tail string) string {
	const widest = 16 // the widest synopsis that keeps its help beside it
	column := 0
	for _, f := range table {
		if n := len(f.synopsis()); n <= widest {
			column = max(column, n+2)
		}
	}
	indent := strings.Repeat(" ", 4+column)
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("\nOPTIONS:\n")
	for _, f := range table {
		syn := f.synopsis()
		if len(syn)+2 > column {
			fmt.Fprintf(&b, "    %s\n%s", syn, indent)
		} else {
			fmt.Fprintf(&b, "    %-*s", column, syn)
		}
		b.WriteString(strings.ReplaceAll(f.help, "\n", "\n"+indent))
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.WriteString(tail)
	return b.String()
}

// badUsage reports a mistake on the command line of command ("ebtrace",
// "ebtrace record") in one line, points to its help rather than printing
// all of it, and returns exit status 1.
func badUsage(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "ebtrace: %v\nTry '%s -h' for more information.\n", err, command)
	return 1
}
