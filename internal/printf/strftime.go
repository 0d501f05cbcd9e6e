package printf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeConversions lists the conversions strftime formats understand: C's
// common ones, and %f for microseconds as bpftrace adds.
const TimeConversions = "%a %A %b %B %c %C %d %D %e %f %F %H %I %j %k %l %m %M %n %p %R %s %S %t %T %u %w %y %Y %z %Z %%"

// CheckTime checks a strftime format; the error is an *Error locating the
// offending conversion.
func CheckTime(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		if i+1 >= len(format) {
			return &Error{Offset: i, End: i + 1, Msg: "incomplete conversion '%' at the end of the strftime format"}
		}
		i++
		if c := format[i]; !strings.Contains(TimeConversions, "%"+string(c)) {
			return &Error{Offset: i - 1, End: i + 1, Msg: fmt.Sprintf("unknown strftime conversion %%%c", c)}
		}
	}
	return nil
}

// FormatTime renders t with a format CheckTime accepted, as C's strftime
// does in the C locale.
func FormatTime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		b.WriteString(timeConversion(format[i], t))
	}
	return b.String()
}

func timeConversion(c byte, t time.Time) string {
	two := func(n int) string { return fmt.Sprintf("%02d", n) }
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	switch c {
	case 'a':
		return t.Format("Mon")
	case 'A':
		return t.Weekday().String()
	case 'b':
		return t.Format("Jan")
	case 'B':
		return t.Month().String()
	case 'c':
		return t.Format("Mon Jan _2 15:04:05 2006")
	case 'C':
		return two(t.Year() / 100)
	case 'd':
		return two(t.Day())
	case 'D':
		return t.Format("01/02/06")
	case 'e':
		return fmt.Sprintf("%2d", t.Day())
	case 'f':
		return fmt.Sprintf("%06d", t.Nanosecond()/1000)
	case 'F':
		return t.Format("2006-01-02")
	case 'H':
		return two(t.Hour())
	case 'I':
		return two(hour12)
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay())
	case 'k':
		return fmt.Sprintf("%2d", t.Hour())
	case 'l':
		return fmt.Sprintf("%2d", hour12)
	case 'm':
		return two(int(t.Month()))
	case 'M':
		return two(t.Minute())
	case 'n':
		return "\n"
	case 'p':
		return t.Format("PM")
	case 'R':
		return t.Format("15:04")
	case 's':
		return strconv.FormatInt(t.Unix(), 10)
	case 'S':
		return two(t.Second())
	case 't':
		return "\t"
	case 'T':
		return t.Format("15:04:05")
	case 'u':
		return strconv.Itoa((int(t.Weekday())+6)%7 + 1)
	case 'w':
		return strconv.Itoa(int(t.Weekday()))
	case 'y':
		return two(t.Year() % 100)
	case 'Y':
		return strconv.Itoa(t.Year())
	case 'z':
		return t.Format("-0700")
	case 'Z':
		return t.Format("MST")
	}
	return "%" // %%
}
