package ebt

import (
	"errors"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Version is the format version this package writes and reads.
const Version = 1

// magic opens every .ebt file.
var magic = [8]byte{0x89, 'E', 'B', 'T', '\r', '\n', 0x1a, '\n'}

// Record types.
const (
	recHeader = 1
	recFormat = 2
	recEvent  = 3
	recComm   = 4
	recLost   = 5
	recEnd    = 6
)

// Sizes of the fixed parts of record bodies.
const (
	headSize        = 8
	headerFixedSize = 8 + 8 + 4 + 4 + 1
	eventFixedSize  = 8 + 4 + 4 + 4 + 4
	commFixedSize   = 8 + 4 + 4
	lostSize        = 4 + 8
	endSize         = 8 + 8 + 8
	// maxBody bounds a record so that a corrupt size cannot make a reader
	// allocate without end; a kernel trace record is far smaller.
	maxBody = 16 << 20
	// maxFormats is how many distinct IDs a u16 common_type can name.
	maxFormats = 1 << 16
)

// Byte orders of the raw event bytes, as the header stores them.
const (
	littleEndian = 1
	bigEndian    = 2
)

var (
	// ErrNotEBT is wrapped by the error for a file that is not a recording.
	ErrNotEBT = errors.New("not an ebtrace recording (.ebt)")
	// ErrVersion is wrapped by the error for a recording of another
	// format version.
	ErrVersion = errors.New("unsupported .ebt version")
	// ErrTruncated is wrapped by the error for a recording that ends
	// before its end record.
	ErrTruncated = errors.New("recording is truncated")
	// ErrCorrupt is wrapped by the error for a malformed record.
	ErrCorrupt = errors.New("recording is corrupt")
)

// Header is what a recording says about the machine and the time it was
// taken on, and which events it records.
type Header struct {
	Release  string // the kernel's release, as uname -r prints it
	Machine  string // its architecture, as uname -m prints it
	Hostname string
	// BTF identifies the kernel's types: "sha256:" and the first 16 hex
	// digits of the SHA-256 of /sys/kernel/btf/vmlinux; empty when the
	// kernel had none.
	BTF string
	// Start is when the recording began, in CLOCK_MONOTONIC nanoseconds,
	// the clock of every time in the recording.
	Start uint64
	// RealtimeOffset is added to a CLOCK_MONOTONIC time for its
	// CLOCK_REALTIME, in nanoseconds.
	RealtimeOffset int64
	CPUs           int  // the machine's possible CPUs
	BigEndian      bool // the raw event bytes' byte order
	// Formats are the recorded events' format files.
	Formats []FormatText
}

// FormatText is one recorded event's format file, as tracefs shows it
// under events/CATEGORY/NAME/format.
type FormatText struct {
	kernel.Tracepoint
	Text string
}

// Event is one recorded occurrence of a trace event.
type Event struct {
	Format *kernel.Format
	Time   uint64 // CLOCK_MONOTONIC nanoseconds
	CPU    int
	PID    int // thread group id
	TID    int
	Comm   string
	// Raw is the record as the kernel's trace buffer held it, laid out as
	// Format says.
	Raw []byte
}
