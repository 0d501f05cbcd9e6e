package main

import "testing"

// TestDotThroughPointers reads members through pointers with ., as the
// current dialect does, and with ->, its older spelling, on pointers and
// on structs alike: both must reach the same values.
func TestDotThroughPointers(t *testing.T) {
	r := ebtrace(t, "-q", "-e", `BEGIN {
		$t = curtask;
		printf("%d %d %d\n", $t.tgid == pid, $t.real_parent.tgid == $t->real_parent->tgid, (*$t)->pid == (*curtask).pid);
		printf("%s\n", $t.comm == comm ? "same comm" : "other comm");
		exit();
	}`)
	r.want(t, 0, "1 1 1\nsame comm\n\n\n")
}
