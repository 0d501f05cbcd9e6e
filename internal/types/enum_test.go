package types

import "testing"

func TestEnumNames(t *testing.T) {
	signed := EnumOf("enum delta", 4, true, []EnumValue{{"BACK", 0xffffffffffffffff}, {"STILL", 0}, {"AGAIN", 0}})
	unsigned := EnumOf("enum state", 2, false, []EnumValue{{"UP", 1}, {"TOP", 0xffff}})
	for _, c := range []struct {
		t    Type
		bits uint64
		want string
	}{
		{signed, 0xffffffffffffffff, "BACK"},
		{signed, 0, "STILL"}, // the first name of a value names it
		{signed, 0xfffffffffffffffe, "-2"},
		{unsigned, 1, "UP"},
		{unsigned, 0xffff, "TOP"},
		{unsigned, 7, "7"},
	} {
		if got := c.t.EnumName(c.bits); got != c.want {
			t.Errorf("%s.EnumName(%#x) = %q, want %q", c.t, c.bits, got, c.want)
		}
	}
	if again := EnumOf("enum delta", 4, true, []EnumValue{{"BACK", 0xffffffffffffffff}, {"STILL", 0}, {"AGAIN", 0}}); again != signed {
		t.Error("equal enum definitions give different types")
	}
	if signed.Enum() != "enum delta" || signed.String() != "enum delta" || IntOf(4, true).Enum() != "" {
		t.Errorf("Enum() = %q, String() = %q", signed.Enum(), signed.String())
	}
	if !Same(signed, Int64) || signed.Size != 4 || !signed.Signed {
		t.Errorf("an enum is not a 4-byte signed integer: %+v", signed)
	}
}
