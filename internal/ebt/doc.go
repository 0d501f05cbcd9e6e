// Package ebt owns the .ebt recording format: what `ebtrace record -o
// FILE.ebt` writes and what a replay reads, so that trace events taken on
// one machine can be analysed on another. It writes and reads the format
// (Writer, Reader) and gathers what a recording says about the machine it
// was taken on (Host); docs/ebt.md is the same specification with
// examples.
//
// # Layout
//
// A file is a preamble and a sequence of records. Every number is
// little-endian. The preamble is 12 bytes:
//
//	magic   [8]byte  0x89 'E' 'B' 'T' '\r' '\n' 0x1a '\n'
//	version u32      1
//
// The magic's high byte and line ends catch a file mangled by a 7-bit or
// text-mode transfer. A reader refuses any other version with an error
// wrapping ErrVersion; additions that old readers can skip go in new
// record types, not in a new version.
//
// Each record is an 8-byte head and a body:
//
//	type u32
//	size u32  bytes of body that follow, at most 16 MiB
//	body [size]byte
//
// A reader skips record types it does not know. Bodies of known types
// begin with the fields below; a reader ignores bytes after them, so a
// later version may append fields to any record but event and comm,
// whose last field runs to the end of the body. A str is a u32 length
// and that many bytes.
//
// # Records
//
// 1 header, exactly once, first:
//
//	start           u64  CLOCK_MONOTONIC ns when the recording began
//	realtime_offset s64  ns to add to a CLOCK_MONOTONIC time for CLOCK_REALTIME
//	cpus            u32  the recording machine's possible CPUs
//	formats         u32  how many format records follow
//	byte_order      u8   of the raw event bytes: 1 little-endian, 2 big-endian
//	release         str  the kernel's release (uname -r)
//	machine         str  its architecture (uname -m)
//	hostname        str
//	btf             str  "sha256:" and the first 16 hex digits of the SHA-256
//	                     of /sys/kernel/btf/vmlinux; empty without kernel BTF
//
// 2 format, as many as the header says, right after it (records of unknown
// types may come between), one per recorded event, whether it occurred
// or not:
//
//	id       u32  the event's ID, the common_type of its raw records
//	category str
//	name     str
//	text     str  the event's tracefs format file, byte for byte
//
// 3 event, one per recorded event occurrence, in time order:
//
//	time u64  CLOCK_MONOTONIC ns
//	id   u32  a format record's id
//	cpu  u32
//	pid  s32  thread group id
//	tid  s32  thread id
//	raw  the rest of the body: the record as the kernel's trace buffer
//	     held it (common_type, common_flags, common_preempt_count,
//	     common_pid, then the fields at their format file offsets)
//
// 4 comm, before the first event of a thread, and again before its first
// event under a new name:
//
//	time u64  CLOCK_MONOTONIC ns of the event that follows
//	pid  s32
//	tid  s32
//	comm the rest of the body
//
// A thread's events carry its latest comm record's name, "" before any.
//
// 5 lost, events a CPU's buffer had no room for, as many as needed:
//
//	cpu   u32
//	count u64  lost since the previous lost record of this CPU
//
// 6 end, exactly once, last; nothing after it is read:
//
//	stop   u64  CLOCK_MONOTONIC ns when the recording ended
//	events u64  how many event records came before
//	lost   u64  the sum of the lost records' counts
//
// A file without its end record stopped before it was closed: a reader
// hands out every whole event it holds, then an error wrapping
// ErrTruncated. Totals that disagree with the records are ErrCorrupt.
package ebt
