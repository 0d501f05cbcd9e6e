package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/glob"
)

// Events reads tracepoint formats from a tracefs tree (the directory that
// holds events/). It caches what it reads and is safe for concurrent use.
type Events struct {
	fsys fs.FS

	mu      sync.Mutex
	tps     []Tracepoint // nil until first listed
	formats map[Tracepoint]*Format
}

// NewEvents returns Events reading the tracefs tree fsys.
func NewEvents(fsys fs.FS) *Events {
	return &Events{fsys: fsys, formats: make(map[Tracepoint]*Format)}
}

// Tracepoints returns every category/name that has a format file, sorted.
// It lists directories without reading the format files, and caches the
// result after the first successful call.
func (e *Events) Tracepoints() ([]Tracepoint, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tps == nil {
		tps, err := e.list()
		if err != nil {
			return nil, err
		}
		e.tps = tps
	}
	return slices.Clone(e.tps), nil
}

func (e *Events) list() ([]Tracepoint, error) {
	cats, err := fs.ReadDir(e.fsys, "events")
	if err != nil {
		return nil, fmt.Errorf("list trace events: %w", err)
	}
	tps := []Tracepoint{}
	for _, cat := range cats {
		if !cat.IsDir() {
			continue
		}
		in, err := e.listCategory(cat.Name())
		if err != nil {
			return nil, err
		}
		tps = append(tps, in...)
	}
	slices.SortFunc(tps, compareTracepoints)
	return tps, nil
}

// listCategory lists the events of one category, sorted. Every directory
// below a category is an event (the files beside them are its controls),
// so no format file is opened or stat'ed.
func (e *Events) listCategory(category string) ([]Tracepoint, error) {
	names, err := fs.ReadDir(e.fsys, path.Join("events", category))
	if err != nil {
		return nil, fmt.Errorf("list trace events: %w", err)
	}
	var tps []Tracepoint
	for _, name := range names {
		if name.IsDir() {
			tps = append(tps, Tracepoint{category, name.Name()})
		}
	}
	return tps, nil
}

func compareTracepoints(a, b Tracepoint) int {
	if c := strings.Compare(a.Category, b.Category); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// Format returns the parsed format of category:name, reading its format file
// on first use. An unknown event gives an error wrapping fs.ErrNotExist. The
// result is shared between callers and must not be modified.
func (e *Events) Format(category, name string) (*Format, error) {
	tp := Tracepoint{category, name}
	if !validElem(category) || !validElem(name) {
		return nil, fmt.Errorf("tracepoint %s: %w", tp, fs.ErrNotExist)
	}
	e.mu.Lock()
	f := e.formats[tp]
	e.mu.Unlock()
	if f != nil {
		return f, nil
	}
	text, err := fs.ReadFile(e.fsys, path.Join("events", category, name, "format"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tracepoint %s: %w", tp, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("tracepoint %s: %w", tp, err)
	}
	f, err = ParseFormat(string(text))
	if err != nil {
		return nil, fmt.Errorf("tracepoint %s: %w", tp, err)
	}
	f.Tracepoint = tp
	e.mu.Lock()
	defer e.mu.Unlock()
	if cached := e.formats[tp]; cached != nil {
		return cached, nil
	}
	e.formats[tp] = f
	return f, nil
}

// validElem reports whether s can be one path element under events/.
func validElem(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsRune(s, '/')
}

// Match returns the tracepoints matching pattern "CATEGORY:NAME", sorted.
// Either part may hold wildcards (package glob's dialect); a malformed one
// is an error wrapping glob.ErrBadPattern.
func (e *Events) Match(pattern string) ([]Tracepoint, error) {
	catPat, namePat, ok := strings.Cut(pattern, ":")
	if !ok {
		return nil, fmt.Errorf("tracepoint pattern %q: want CATEGORY:NAME", pattern)
	}
	for _, p := range []string{catPat, namePat} {
		if err := glob.Check(p); err != nil {
			return nil, fmt.Errorf("tracepoint pattern %q: %w", pattern, err)
		}
	}
	var tps []Tracepoint
	var err error
	switch {
	case !glob.HasMeta(catPat) && !glob.HasMeta(namePat):
		// One event: look at its format file alone, not the whole tree.
		if !validElem(catPat) || !validElem(namePat) {
			return nil, nil
		}
		if _, err := fs.Stat(e.fsys, path.Join("events", catPat, namePat, "format")); err != nil {
			return nil, nil
		}
		return []Tracepoint{{catPat, namePat}}, nil
	case !glob.HasMeta(catPat):
		if !validElem(catPat) {
			return nil, nil
		}
		if tps, err = e.listCategory(catPat); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	default:
		tps, err = e.Tracepoints()
	}
	if err != nil {
		return nil, err
	}
	var out []Tracepoint
	for _, tp := range tps {
		if glob.Match(catPat, tp.Category) && glob.Match(namePat, tp.Name) {
			out = append(out, tp)
		}
	}
	return out, nil
}
