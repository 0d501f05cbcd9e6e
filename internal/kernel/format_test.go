package kernel

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// common are the header fields every event on the 6.18 test kernel starts with.
var common = []Field{
	{Name: "common_type", Type: "unsigned short", Offset: 0, Size: 2, Common: true},
	{Name: "common_flags", Type: "unsigned char", Offset: 2, Size: 1, Common: true},
	{Name: "common_preempt_count", Type: "unsigned char", Offset: 3, Size: 1, Common: true},
	{Name: "common_pid", Type: "int", Offset: 4, Size: 4, Signed: true, Common: true},
}

func withCommon(args ...Field) []Field { return append(append([]Field{}, common...), args...) }

var syscallNr = Field{Name: "__syscall_nr", Type: "int", Offset: 8, Size: 4, Signed: true}

func TestParseFormatTestdata(t *testing.T) {
	tests := []struct {
		path   string
		name   string
		id     uint32
		fields []Field
	}{
		{"syscalls/sys_enter_openat", "sys_enter_openat", 782, withCommon(
			syscallNr,
			Field{Name: "dfd", Type: "int", Offset: 16, Size: 8},
			Field{Name: "filename", Type: "const char *", Offset: 24, Size: 8, Pointer: true, IsString: true},
			Field{Name: "flags", Type: "int", Offset: 32, Size: 8},
			Field{Name: "mode", Type: "umode_t", Offset: 40, Size: 8},
		)},
		{"syscalls/sys_exit_openat", "sys_exit_openat", 781, withCommon(
			syscallNr,
			Field{Name: "ret", Type: "long", Offset: 16, Size: 8, Signed: true},
		)},
		{"syscalls/sys_enter_write", "sys_enter_write", 840, withCommon(
			syscallNr,
			Field{Name: "fd", Type: "unsigned int", Offset: 16, Size: 8},
			Field{Name: "buf", Type: "const char *", Offset: 24, Size: 8, Pointer: true, IsString: true},
			Field{Name: "count", Type: "size_t", Offset: 32, Size: 8},
		)},
		{"syscalls/sys_enter_getppid", "sys_enter_getppid", 305, withCommon(syscallNr)},
		{"syscalls/sys_exit_getppid", "sys_exit_getppid", 304, withCommon(
			syscallNr,
			Field{Name: "ret", Type: "long", Offset: 16, Size: 8, Signed: true},
		)},
		{"syscalls/sys_enter_execve", "sys_enter_execve", 862, withCommon(
			syscallNr,
			Field{Name: "filename", Type: "const char *", Offset: 16, Size: 8, Pointer: true, IsString: true},
			Field{Name: "argv", Type: "const char *const *", Offset: 24, Size: 8, Pointer: true},
			Field{Name: "envp", Type: "const char *const *", Offset: 32, Size: 8, Pointer: true},
		)},
		{"sched/sched_process_exec", "sched_process_exec", 365, withCommon(
			Field{Name: "filename", Type: "__data_loc char[]", Offset: 8, Size: 4, DataLoc: true, IsString: true},
			Field{Name: "pid", Type: "pid_t", Offset: 12, Size: 4, Signed: true},
			Field{Name: "old_pid", Type: "pid_t", Offset: 16, Size: 4, Signed: true},
		)},
		{"sched/sched_switch", "sched_switch", 372, withCommon(
			Field{Name: "prev_comm", Type: "char[16]", Offset: 8, Size: 16, ArrayLen: 16, IsString: true},
			Field{Name: "prev_pid", Type: "pid_t", Offset: 24, Size: 4, Signed: true},
			Field{Name: "prev_prio", Type: "int", Offset: 28, Size: 4, Signed: true},
			Field{Name: "prev_state", Type: "long", Offset: 32, Size: 8, Signed: true},
			Field{Name: "next_comm", Type: "char[16]", Offset: 40, Size: 16, ArrayLen: 16, IsString: true},
			Field{Name: "next_pid", Type: "pid_t", Offset: 56, Size: 4, Signed: true},
			Field{Name: "next_prio", Type: "int", Offset: 60, Size: 4, Signed: true},
		)},
		{"raw_syscalls/sys_enter", "sys_enter", 443, withCommon(
			Field{Name: "id", Type: "long", Offset: 8, Size: 8, Signed: true},
			Field{Name: "args", Type: "unsigned long[6]", Offset: 16, Size: 48, ArrayLen: 6},
		)},
		{"task/task_rename", "task_rename", 204, withCommon(
			Field{Name: "pid", Type: "pid_t", Offset: 8, Size: 4, Signed: true},
			Field{Name: "oldcomm", Type: "char[16]", Offset: 12, Size: 16, ArrayLen: 16, IsString: true},
			Field{Name: "newcomm", Type: "char[16]", Offset: 28, Size: 16, ArrayLen: 16, IsString: true},
			Field{Name: "oom_score_adj", Type: "short", Offset: 44, Size: 2, Signed: true},
		)},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join(fakeTree, "events", tt.path, "format"))
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFormat(string(text))
			if err != nil {
				t.Fatal(err)
			}
			want := &Format{Tracepoint: Tracepoint{Name: tt.name}, ID: tt.id, Fields: tt.fields}
			if !reflect.DeepEqual(f, want) {
				t.Errorf("ParseFormat:\n got %+v\nwant %+v", f, want)
			}
		})
	}
}

// header is the start of a format file, for the hand-written cases below.
const header = "name: ev\nID: 7\nformat:\n"

func TestParseFormatShapes(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Field
	}{
		{"rel_loc", "\tfield:__rel_loc char[] msg;\toffset:8;\tsize:4;\tsigned:0;",
			Field{Name: "msg", Type: "__rel_loc char[]", Offset: 8, Size: 4, DataLoc: true, RelLoc: true, IsString: true}},
		{"data_loc non-string", "\tfield:__data_loc u64[] ids;\toffset:8;\tsize:4;\tsigned:0;",
			Field{Name: "ids", Type: "__data_loc u64[]", Offset: 8, Size: 4, DataLoc: true}},
		{"data_loc cpumask", "\tfield:__data_loc cpumask_t mask;\toffset:8;\tsize:4;\tsigned:0;",
			Field{Name: "mask", Type: "__data_loc cpumask_t", Offset: 8, Size: 4, DataLoc: true}},
		{"flexible array", "\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;",
			Field{Name: "buf", Type: "char[]", Offset: 16, IsString: true}},
		{"u8 array", "\tfield:__u8 saddr[16];\toffset:8;\tsize:16;\tsigned:0;",
			Field{Name: "saddr", Type: "__u8[16]", Offset: 8, Size: 16, ArrayLen: 16, IsString: true}},
		{"two-dimensional array", "\tfield:u32 m[2][3];\toffset:8;\tsize:24;\tsigned:0;",
			Field{Name: "m", Type: "u32[2][3]", Offset: 8, Size: 24, ArrayLen: 6}},
		{"macro array length", "\tfield:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:1;",
			Field{Name: "comm", Type: "char[TASK_COMM_LEN]", Offset: 8, Size: 16, Signed: true, ArrayLen: 16, IsString: true}},
		{"const pointer", "\tfield:const void *const data;\toffset:8;\tsize:8;\tsigned:0;",
			Field{Name: "data", Type: "const void *const", Offset: 8, Size: 8, Pointer: true}},
		{"const pointer to char", "\tfield:const char *const s;\toffset:8;\tsize:8;\tsigned:0;",
			Field{Name: "s", Type: "const char *const", Offset: 8, Size: 8, Pointer: true, IsString: true}},
		{"pointer to pointer", "\tfield:struct iocb * * iocbpp;\toffset:8;\tsize:8;\tsigned:0;",
			Field{Name: "iocbpp", Type: "struct iocb * *", Offset: 8, Size: 8, Pointer: true}},
		{"unspaced pointer", "\tfield:char *name;\toffset:8;\tsize:8;\tsigned:0;",
			Field{Name: "name", Type: "char *", Offset: 8, Size: 8, Pointer: true, IsString: true}},
		{"missing signed, signed type", "\tfield:int common_pid;\toffset:4;\tsize:4;",
			Field{Name: "common_pid", Type: "int", Offset: 4, Size: 4, Signed: true, Common: true}},
		{"missing signed, unsigned type", "\tfield:unsigned short common_type;\toffset:0;\tsize:2;",
			Field{Name: "common_type", Type: "unsigned short", Size: 2, Common: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFormat(header + tt.line + "\n\nprint fmt: \"field:int x;\"\n")
			if err != nil {
				t.Fatal(err)
			}
			want := []Field{tt.want}
			if !reflect.DeepEqual(f.Fields, want) {
				t.Errorf("fields:\n got %+v\nwant %+v", f.Fields, want)
			}
		})
	}
}

func TestParseFormatErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"empty", "", "no name"},
		{"no ID", "name: ev\n", "no ID"},
		{"bad ID", "name: ev\nID: x\n", "line 2"},
		{"no offset", header + "\tfield:int x;\tsize:4;\tsigned:1;\n", "no offset"},
		{"no size", header + "\tfield:int x;\toffset:4;\tsigned:1;\n", "no size"},
		{"bad size", header + "\tfield:int x;\toffset:4;\tsize:four;\tsigned:1;\n", "bad size"},
		{"negative offset", header + "\tfield:int x;\toffset:-4;\tsize:4;\tsigned:1;\n", "bad offset"},
		{"no type", header + "\tfield:x;\toffset:4;\tsize:4;\tsigned:1;\n", "want TYPE NAME"},
		{"unbalanced", header + "\tfield:int x];\toffset:4;\tsize:4;\tsigned:1;\n", "unbalanced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFormat(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFormat error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestFormatLookup(t *testing.T) {
	f, err := fakeEvents().Format("sched", "sched_switch")
	if err != nil {
		t.Fatal(err)
	}
	if fld, ok := f.Field("next_pid"); !ok || fld.Offset != 56 {
		t.Errorf("Field(next_pid) = %+v, %v", fld, ok)
	}
	if _, ok := f.Field("common_pid"); ok {
		t.Error("Field(common_pid) found a common field")
	}
	var names []string
	for _, fld := range f.ArgFields() {
		names = append(names, fld.Name)
	}
	want := []string{"prev_comm", "prev_pid", "prev_prio", "prev_state", "next_comm", "next_pid", "next_prio"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("ArgFields names = %v, want %v", names, want)
	}
}

func FuzzParseFormat(f *testing.F) {
	files, err := filepath.Glob(fakeTree + "/events/*/*/format")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		text, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(text))
	}
	f.Add(header + "\tfield:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\n")
	f.Add(header + "\tfield:__rel_loc char[] msg;\toffset:8;\tsize:4;\tsigned:0;\n")
	f.Fuzz(func(t *testing.T, text string) {
		fm, err := ParseFormat(text)
		if err != nil {
			return
		}
		for _, fld := range fm.Fields {
			if fld.Name == "" || fld.Type == "" || fld.Offset < 0 || fld.Size < 0 || fld.ArrayLen < 0 {
				t.Errorf("bad field %+v", fld)
			}
		}
	})
}
