package main

import "testing"

// TestDotThroughPointers reads members through pointers with ., as the
// current dialect does, and with ->, its older spelling, on pointers and
// on structs alike: both must reach the same values.
func TestDotThroughPointers(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN {
		$t = curtask;
		printf("%d %d %d\n", $t.tgid == pid, $t.real_parent.tgid == $t->real_parent->tgid, (*$t)->pid == (*curtask).pid);
		printf("%s\n", $t.comm == comm ? "same comm" : "other comm");
		exit();
	}`)
	r.want(t, 0, "1 1 1\nsame comm\n\n\n")
}

// TestIntegerArrays casts integers to arrays of integers and back, as the
// docs' example does, indexes them (by a constant, a variable, past the
// end), compares them, keeps them in variables and maps (as values and in
// keys) and prints them; an array member read from a kernel struct is one
// too.
func TestIntegerArrays(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN {
		$a = (int8[8])12345;
		printf("%x %x\n", $a[0], $a[1]);
		printf("%d\n", (uint64)$a);
		$b = (int8[4])0x01020384;
		$i = 3;
		printf("%d %d %d %u\n", $b[0], $b[$i], $b[$i + 1], (uint32)$b);
		print($b);
		print((uint16[])0xfffe0001ffff0002);
		printf("%d %d\n", $b == (int8[4])0x01020384, $b != (int8[4])0x01020384);
		$m = curtask->cpus_mask.bits;
		printf("%d\n", $m == curtask.cpus_mask.bits);
		@v = $b;
		@k[$b] = 1;
		@k[(int8[4])-1] = 2;
		exit();
	}`)
	r.want(t, 0, "39 30\n12345\n-124 1 0 16909188\n[-124,3,2,1]\n[2,65535,1,65534]\n1 0\n1\n\n\n@k[[-124,3,2,1]]: 1\n@k[[-1,-1,-1,-1]]: 2\n@v: [-124,3,2,1]\n")
	r = runCLI(t, "-q", "-f", "json", "-e", `BEGIN { print((uint8[4])0x01020304); exit(); }`)
	r.want(t, 0, `{"type": "value", "data": [4,3,2,1]}`+"\n")
}
