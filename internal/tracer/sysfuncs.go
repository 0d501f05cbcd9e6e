package tracer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/types"
)

// renderText turns the bytes of a Text value into what it prints as:
// the function that made it says how, or (username) the uid's name.
func renderText(b []byte, t types.Type) string {
	if text, ok := funcs.Render(t.Render, b); ok {
		return text
	}
	if t.Render == types.RenderUser {
		return userName(uint32(binary.LittleEndian.Uint64(b)))
	}
	return ""
}

// users maps uids to names from /etc/passwd, read once.
var users = sync.OnceValue(func() map[uint32]string {
	names := map[uint32]string{}
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return names
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 {
			continue
		}
		uid, err := strconv.ParseUint(fields[2], 10, 32)
		if _, seen := names[uint32(uid)]; err == nil && !seen {
			names[uint32(uid)] = fields[0]
		}
	}
	return names
})

// userName is uid's name in /etc/passwd, or the number when it has none.
func userName(uid uint32) string {
	if name, ok := users()[uid]; ok {
		return name
	}
	return strconv.FormatUint(uint64(uid), 10)
}

// formatted renders a printf-style record.
func (s *Session) formatted(ev *plan.Event, raw []byte) string {
	args := make([]any, len(ev.Args))
	verbs := ev.Printf.Verbs()
	for i, a := range ev.Args {
		args[i] = s.sym.value(raw[a.Offset:], a.Type, printfIndent, false)
		switch {
		case i >= len(verbs):
		case a.Type.Enum() != "" && verbs[i].WantsString():
			args[i] = a.Type.EnumName(binary.LittleEndian.Uint64(raw[a.Offset:]))
		case verbs[i].WantsGFP():
			args[i] = kernel.FormatGFP(binary.LittleEndian.Uint64(raw[a.Offset:]), s.b.Result().Info.GFPFlags)
		}
	}
	return ev.Printf.Render(args)
}

// handleSys acts on the events of the functions that reach user space:
// errorf, warnf, system, cat, time and -k's helper errors.
func (s *Session) handleSys(ev *plan.Event, raw []byte) error {
	switch ev.Kind {
	case plan.Errorf, plan.Warnf, plan.Assert:
		if ev.Kind != plan.Warnf {
			s.errors++
		}
		level := map[plan.EventKind]string{plan.Errorf: "ERROR", plan.Assert: "ERROR", plan.Warnf: "WARNING"}[ev.Kind]
		fmt.Fprintf(s.warn, "%s: %s: %s\n", ev.Where, level, strings.TrimSuffix(s.formatted(ev, raw), "\n"))
		if ev.Kind == plan.Assert && !s.exited {
			s.exited, s.exitCode = true, 1
		}
	case plan.Time:
		s.out.Message(output.TimeMessage, printf.FormatTime(ev.Format, time.Now()))
	case plan.Cat:
		path := s.formatted(ev, raw)
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(s.warn, "ERROR: cat(%q): %v\n", path, err)
			return nil
		}
		s.out.Message(output.CatMessage, string(b))
	case plan.System:
		// The command's output joins the trace's, in order, so it is
		// collected before the next event is handled.
		cmd := exec.Command("/bin/sh", "-c", s.formatted(ev, raw))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, s.warn
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(s.warn, "WARNING: system(%q): %v\n", cmd.Args[2], err)
		}
		s.out.Message(output.SystemMessage, out.String())
	case plan.HelperError:
		s.helperError(raw)
	}
	return nil
}

// helperError reports a failed helper call from its record.
func (s *Session) helperError(raw []byte) {
	if len(raw) < plan.HelperErrorSize {
		return
	}
	file := s.b.Result().File
	fn := asm.BuiltinFunc(binary.LittleEndian.Uint64(raw[plan.HelperErrorHelper:]))
	code := int64(binary.LittleEndian.Uint64(raw[plan.HelperErrorCode:]))
	sp := source.Span{
		Start: source.Pos(binary.LittleEndian.Uint32(raw[plan.HelperErrorSpan:])),
		End:   source.Pos(binary.LittleEndian.Uint32(raw[plan.HelperErrorSpan+4:])),
	}
	line, col := file.Position(sp.Start)
	h := output.HelperError{
		Where: plan.Where(file, sp), Helper: helperName(fn), Code: code, Message: funcs.Strerror(-code),
		Line: line, Col: col, Source: output.Underline(file.Line(line), col, int(sp.End-sp.Start)),
	}
	if !s.out.HelperError(h) {
		fmt.Fprint(s.warn, h.Text())
	}
}

// helperName is a helper's name without bpf_: FnMapUpdateElem is
// "map_update_elem".
func helperName(fn asm.BuiltinFunc) string {
	var b strings.Builder
	for i, r := range strings.TrimPrefix(fn.String(), "Fn") {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
