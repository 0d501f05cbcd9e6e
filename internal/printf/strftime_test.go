package printf

import (
	"testing"
	"time"
)

func TestFormatTime(t *testing.T) {
	at := time.Date(2024, time.March, 5, 7, 8, 9, 123456789, time.FixedZone("CET", 3600))
	cases := []struct{ format, want string }{
		{"%Y-%m-%d %H:%M:%S", "2024-03-05 07:08:09"},
		{"%H:%M:%S.%f", "07:08:09.123456"},
		{"%a %A %b %B %e %j", "Tue Tuesday Mar March  5 065"},
		{"%C %y %D %F %T %R", "20 24 03/05/24 2024-03-05 07:08:09 07:08"},
		{"%I %l %k %p", "07  7  7 AM"},
		{"%u %w %z %Z %s", "2 2 +0100 CET 1709618889"},
		{"%c", "Tue Mar  5 07:08:09 2024"},
		{"100%% %n%t.", "100% \n\t."},
		{"no conversions", "no conversions"},
	}
	for _, c := range cases {
		if err := CheckTime(c.format); err != nil {
			t.Errorf("CheckTime(%q): %v", c.format, err)
		}
		if got := FormatTime(c.format, at); got != c.want {
			t.Errorf("FormatTime(%q) = %q, want %q", c.format, got, c.want)
		}
	}
	pm := time.Date(2024, time.March, 10, 12, 0, 0, 0, time.UTC)
	if got := FormatTime("%I %p %u %w", pm); got != "12 PM 7 0" {
		t.Errorf("noon on a Sunday: %q", got)
	}
}

func TestCheckTimeErrors(t *testing.T) {
	cases := []struct {
		format      string
		offset, end int
	}{
		{"%H:%Q", 3, 5},
		{"abc %", 4, 5},
		{"%r", 0, 2},
	}
	for _, c := range cases {
		err := CheckTime(c.format)
		e, ok := err.(*Error)
		if !ok || e.Offset != c.offset || e.End != c.end {
			t.Errorf("CheckTime(%q) = %v, want an *Error at [%d, %d)", c.format, err, c.offset, c.end)
		}
	}
}

// %r prints what user space rendered from a buffer, like %s.
func TestBufferVerb(t *testing.T) {
	f, err := Parse(`[%r] [%5r] [%-4r]`)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Verbs() {
		if !v.WantsBuffer() || v.WantsString() {
			t.Errorf("%%%c: WantsBuffer %v WantsString %v", v.Conv, v.WantsBuffer(), v.WantsString())
		}
	}
	if got, want := f.Render([]any{`a\x01`, "ab", "c"}), `[a\x01] [   ab] [c   ]`; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if _, err := Parse("%lr"); err == nil {
		t.Error("Parse(%lr) succeeded")
	}
}
