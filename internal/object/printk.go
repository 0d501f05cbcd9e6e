package object

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// A printk line reaches the kernel's trace buffer through the trace event
// bpf_trace:bpf_trace_printk. The object's lines are read from a tracefs
// instance of ebtrace's own, with that event enabled, so that the global
// trace buffer (and whoever reads it) is left alone. The event does not
// say which program printed, so a line is taken as this object's when
// its text matches one of the format strings in the object's read-only
// data: other programs' lines are dropped.

// instancePrefix names ebtrace run's tracefs instances; the process ID
// follows, so that a later run can remove those of a process that died
// without cleaning up (SIGKILL).
const instancePrefix = "ebtrace-run-"

// printkEvent is the trace event that carries bpf_printk's lines.
const printkEvent = "events/bpf_trace/bpf_trace_printk/enable"

// printkReader reads one object's printk lines from a private instance.
type printkReader struct {
	dir     string
	pipe    *os.File
	formats []*regexp.Regexp
	partial []byte
	buf     []byte // what one read takes from the pipe
}

// newPrintkReader makes the instance and enables the printk event in it,
// when the object's programs call bpf_trace_printk or bpf_trace_vprintk;
// it returns nil when they do not. Either way it removes the instances
// of earlier runs killed before they could.
func newPrintkReader(spec *ebpf.CollectionSpec) (*printkReader, error) {
	root, _, err := kernel.Tracefs()
	if err == nil {
		removeStaleInstances(root)
	}
	if !prints(spec) {
		return nil, nil
	}
	formats := printkFormats(spec)
	if len(formats) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read bpf_printk lines: %w", err)
	}
	dir := filepath.Join(root, "instances", instancePrefix+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("read bpf_printk lines: make a tracefs instance: %w", err)
	}
	r := &printkReader{dir: dir, formats: formats, buf: make([]byte, 64<<10)}
	if err := os.WriteFile(filepath.Join(dir, printkEvent), []byte("1"), 0); err != nil {
		r.Close()
		return nil, fmt.Errorf("read bpf_printk lines: enable bpf_trace_printk: %w", err)
	}
	pipe, err := os.OpenFile(filepath.Join(dir, "trace_pipe"), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read bpf_printk lines: %w", err)
	}
	r.pipe = pipe
	return r, nil
}

// prints reports whether a program of spec calls a printk helper.
func prints(spec *ebpf.CollectionSpec) bool {
	for _, p := range spec.Programs {
		for _, ins := range p.Instructions {
			if ins.IsBuiltinCall() && (ins.Constant == int64(asm.FnTracePrintk) || ins.Constant == int64(asm.FnTraceVprintk)) {
				return true
			}
		}
	}
	return false
}

// removeStaleInstances removes the instances of ebtrace runs whose
// process is gone.
func removeStaleInstances(root string) {
	entries, _ := os.ReadDir(filepath.Join(root, "instances"))
	for _, e := range entries {
		pid, ok := strings.CutPrefix(e.Name(), instancePrefix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil || unix.Kill(n, 0) == unix.ESRCH {
			os.Remove(filepath.Join(root, "instances", e.Name()))
		}
	}
}

// read waits up to wait for lines and returns the complete ones that are
// this object's, each without the kernel's leading padding and without
// the event's name.
func (r *printkReader) read(wait time.Duration) ([]string, error) {
	fds := []unix.PollFd{{Fd: int32(r.pipe.Fd()), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, int(wait.Milliseconds())); err != nil && !errors.Is(err, unix.EINTR) {
		return nil, fmt.Errorf("read bpf_printk lines: %w", err)
	}
	for {
		n, err := unix.Read(int(r.pipe.Fd()), r.buf)
		if n > 0 {
			r.partial = append(r.partial, r.buf[:n]...)
		}
		if n <= 0 || err != nil {
			if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				return nil, fmt.Errorf("read bpf_printk lines: %w", err)
			}
			break
		}
	}
	var lines []string
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		if line, ok := r.ours(string(r.partial[:i])); ok {
			lines = append(lines, line)
		}
		r.partial = r.partial[i+1:]
	}
	return lines, nil
}

// ours returns line as ebtrace shows it, and whether one of the object's
// formats made it.
func (r *printkReader) ours(line string) (string, bool) {
	head, msg, ok := strings.Cut(line, " bpf_trace_printk: ")
	if !ok {
		return "", false
	}
	for _, f := range r.formats {
		if f.MatchString(msg) {
			return strings.TrimLeft(head, " ") + " " + msg, true
		}
	}
	return "", false
}

// Close disables the event and removes the instance.
func (r *printkReader) Close() error {
	if r.pipe != nil {
		r.pipe.Close()
	}
	os.WriteFile(filepath.Join(r.dir, printkEvent), []byte("0"), 0)
	return os.Remove(r.dir)
}

// printkFormats are matchers for the strings of the object's read-only
// data sections, each a possible bpf_printk format.
func printkFormats(spec *ebpf.CollectionSpec) []*regexp.Regexp {
	var out []*regexp.Regexp
	for name, m := range spec.Maps {
		if !strings.HasPrefix(name, ".rodata") {
			continue
		}
		for _, kv := range m.Contents {
			data, ok := kv.Value.([]byte)
			if !ok {
				continue
			}
			for _, s := range bytes.Split(data, []byte{0}) {
				f := strings.TrimRight(string(s), "\n")
				if !isText(f) {
					continue
				}
				if m, err := formatMatcher(f); err == nil {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// isText reports whether s can be a format: printable ASCII, not empty.
func isText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' || c > '~') && c != '\t' && c != '\n' {
			return false
		}
	}
	return true
}

// conversion is one bpf_printk conversion: the kernel takes %d %i %u %x
// %X %c %s with flags, width and l/ll/h/z, and %p with its extensions
// (%pS, %pK, %pi4, ...).
var conversion = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`%%|%p[a-zA-Z0-9]*|%[-+ #0]*[0-9]*(?:\.[0-9]+)?(?:hh|h|ll|l|z)?[diuxXcs]`)
})

// formatMatcher returns a regexp that matches exactly the texts format
// can print; an error when format is no text (invalid UTF-8).
func formatMatcher(format string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^`)
	last := 0
	for _, m := range conversion().FindAllStringIndex(format, -1) {
		b.WriteString(regexp.QuoteMeta(format[last:m[0]]))
		switch conv := format[m[0]:m[1]]; {
		case conv == "%%":
			b.WriteString(`%`)
		case strings.HasSuffix(conv, "s"), strings.HasPrefix(conv, "%p"):
			b.WriteString(`.*`)
		case strings.HasSuffix(conv, "c"):
			b.WriteString(`.`)
		default:
			b.WriteString(` *[-+]?(?:0[xX])?[0-9a-fA-F]+ *`)
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(format[last:]))
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}
