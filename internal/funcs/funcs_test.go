package funcs

import "testing"

// TestTable checks every entry's shape: a name once, sane argument
// counts, and for each library function a type rule and a code
// generation; the language's own have neither.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range all {
		if seen[f.Name] {
			t.Errorf("%s is in the table twice", f.Name)
		}
		seen[f.Name] = true
		if f.Min < 0 || f.Max < f.Min {
			t.Errorf("%s takes %d to %d arguments", f.Name, f.Min, f.Max)
		}
		if f.Doc == "" {
			t.Errorf("%s has no Doc", f.Name)
		}
		hooks := f.Check != nil || f.Int != nil || f.To != nil || f.Render != nil
		switch {
		case f.Core && hooks:
			t.Errorf("%s is compiled by the passes but has hooks", f.Name)
		case !f.Core && (f.Check == nil || f.Int == nil && f.To == nil && !f.Rewritten && !f.CompileTime):
			t.Errorf("%s is a library function without a type rule or code generation", f.Name)
		case f.CompileTime && (f.Int != nil || f.To != nil):
			t.Errorf("%s acts when the script compiles but has code generation", f.Name)
		case f.Aggregation && !f.Core:
			t.Errorf("aggregation %s is not Core", f.Name)
		}
	}
	if f, ok := Lookup("ntop"); !ok || f.Name != "ntop" {
		t.Errorf("Lookup(ntop) = %v, %v", f, ok)
	}
	if _, ok := Lookup("nosuch"); ok {
		t.Error("Lookup found nosuch")
	}
	if !IsAggregation("hist") || IsAggregation("printf") || IsAggregation("nosuch") {
		t.Error("IsAggregation is wrong")
	}
}

// TestRender checks the renderers of Text values against what C prints.
func TestRender(t *testing.T) {
	inet6 := append([]byte{10, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 16)...)
	inet6[23] = 1
	for _, c := range []struct {
		text string
		b    []byte
		want string
	}{
		{"inet", []byte{2, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "127.0.0.1"},
		{"inet", inet6, "::1"},
		{"macaddr", []byte{0x52, 0x54, 0, 0x12, 0x34, 0xab, 0, 0}, "52:54:00:12:34:AB"},
		{"strerror", []byte{2, 0, 0, 0, 0, 0, 0, 0}, "No such file or directory"},
		{"strerror", []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}, "Unknown error 65535"},
	} {
		if got, ok := Render(c.text, c.b); !ok || got != c.want {
			t.Errorf("Render(%s, %v) = %q, %v; want %q", c.text, c.b, got, ok, c.want)
		}
	}
	if _, ok := Render("username", make([]byte, 8)); ok {
		t.Error("funcs renders username, which the runtime owns")
	}
}
