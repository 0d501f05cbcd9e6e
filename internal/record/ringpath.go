package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// A ring path record: what a perf sample header would say, then the raw
// trace record, copied with bpf_probe_read_kernel. A BPF program's context
// holds a pt_regs pointer where the record's common header was, so the
// program writes the header itself: the event's ID and the thread, with
// common_flags and common_preempt_count, which no helper tells, zero.
const (
	ringTime    = 0  // u64 bpf_ktime_get_ns (CLOCK_MONOTONIC)
	ringPidTgid = 8  // u64: tid low, pid high
	ringCPU     = 16 // u32
	ringSize    = 20 // u32 bytes of raw record that follow
	ringComm    = 24 // char[16]
	ringRaw     = 40

	// maxDynamic bounds the __data_loc data copied after the fixed part;
	// perf's per-CPU trace buffer, which holds the record, is 8 KiB.
	maxDynamic = 4096
)

const filteredLabel = "record_filtered"

// ringProgram filters like the perf path's program, then copies the kept
// record to the ring buffer, counting in lost[cpu] what does not fit. It
// returns 1, so that it never drops other tools' perf samples.
func ringProgram(f *kernel.Format, body asm.Instructions, check processCheck, events, lost *ebpf.Map) (asm.Instructions, error) {
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	insns = append(insns, check.insns()...)
	insns = append(insns, asm.Mov.Reg(asm.R1, asm.R6))
	for _, ins := range body {
		if ins.IsFunctionCall() {
			return nil, fmt.Errorf("filter of %s: BPF-to-BPF calls cannot be inlined into the ring buffer program", f.Tracepoint)
		}
		if ins.OpCode.JumpOp() == asm.Exit {
			// The body's exits become jumps to the copying code.
			jump := asm.Ja.Label(filteredLabel)
			if sym := ins.Symbol(); sym != "" {
				jump = jump.WithSymbol(sym)
			}
			ins = jump
		}
		insns = append(insns, ins)
	}
	fixed, dynamic := recordExtent(f)
	limit := fixed
	if dynamic {
		limit += maxDynamic
	}
	insns = append(insns,
		asm.JEq.Imm(asm.R0, 0, dropLabel).WithSymbol(filteredLabel),
		asm.LoadMapPtr(asm.R1, events.FD()),
		asm.Mov.Imm(asm.R2, int32(ringRaw+limit)),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "record_full"),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.R7, ringTime, asm.R0, asm.DWord),
		asm.FnGetCurrentPidTgid.Call(),
		asm.StoreMem(asm.R7, ringPidTgid, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.FnGetSmpProcessorId.Call(),
		asm.StoreMem(asm.R7, ringCPU, asm.R0, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, ringComm),
		asm.Mov.Imm(asm.R2, 16),
		asm.FnGetCurrentComm.Call(),
		asm.Mov.Imm(asm.R8, int32(fixed)),
	)
	// The record ends after its fixed part or its last dynamic data.
	for i, fld := range f.Fields {
		if !fld.DataLoc {
			continue
		}
		skip := fmt.Sprintf("record_end_%d", i)
		insns = append(insns,
			asm.LoadMem(asm.R1, asm.R6, int16(fld.Offset), asm.Word),
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.RSh.Imm(asm.R2, 16),
			asm.And.Imm(asm.R1, 0xffff),
			asm.Add.Reg(asm.R1, asm.R2),
		)
		if fld.RelLoc {
			insns = append(insns, asm.Add.Imm(asm.R1, int32(fld.Offset+fld.Size)))
		}
		insns = append(insns,
			asm.JLE.Reg(asm.R1, asm.R8, skip),
			asm.Mov.Reg(asm.R8, asm.R1),
			asm.Mov.Imm(asm.R0, 0).WithSymbol(skip), // a landing place for the jump
		)
	}
	insns = append(insns,
		asm.JLE.Imm(asm.R8, int32(limit), "record_copy"),
		asm.Mov.Imm(asm.R8, int32(limit)),
		asm.StoreMem(asm.R7, ringSize, asm.R8, asm.Word).WithSymbol("record_copy"),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, ringRaw),
		asm.Mov.Reg(asm.R2, asm.R8),
		asm.Mov.Reg(asm.R3, asm.R6),
		asm.FnProbeReadKernel.Call(),
		asm.StoreImm(asm.R7, ringRaw, int64(f.ID), asm.Half),
		asm.StoreImm(asm.R7, ringRaw+2, 0, asm.Half),
		asm.StoreMem(asm.R7, ringRaw+4, asm.R9, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.Ja.Label(dropLabel),
		// The ring buffer is full: count the loss on this CPU.
		asm.Mov.Imm(asm.R1, 0).WithSymbol("record_full"),
		asm.StoreMem(asm.RFP, -4, asm.R1, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, lost.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, dropLabel),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 1).WithSymbol(dropLabel),
		asm.Return(),
	)
	return insns, nil
}

// recordExtent returns the end of the record's fixed part and whether
// dynamic (__data_loc) data may follow it.
func recordExtent(f *kernel.Format) (fixed int, dynamic bool) {
	for _, fld := range f.Fields {
		fixed = max(fixed, fld.Offset+fld.Size)
		dynamic = dynamic || fld.DataLoc
	}
	return fixed, dynamic
}

// ringSource reads the ring buffer that every event's program writes to.
type ringSource struct {
	events *ebpf.Map
	lost   *ebpf.Map
	links  []link.Link
	reader *ringbuf.Reader
	counts []uint64
}

func openRing(formats []*kernel.Format, bodies []asm.Instructions, check processCheck, bufferSize int) (_ *ringSource, err error) {
	page := os.Getpagesize()
	size := page
	// One ring buffer is shared by every CPU.
	for size < bufferSize*ebpfPossibleCPUs() {
		size *= 2
	}
	s := &ringSource{counts: make([]uint64, ebpfPossibleCPUs())}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.events, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: uint32(size)}); err != nil {
		return nil, fmt.Errorf("ring buffer: %w", err)
	}
	if s.lost, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return nil, fmt.Errorf("lost counter: %w", err)
	}
	for i, f := range formats {
		insns, err := ringProgram(f, bodies[i], check, s.events, s.lost)
		if err != nil {
			return nil, err
		}
		prog, err := loadProgram(insns)
		if err != nil {
			return nil, fmt.Errorf("ring buffer program of %s: %w", f.Tracepoint, err)
		}
		l, err := link.Tracepoint(f.Category, f.Name, prog, nil)
		prog.Close()
		if err != nil {
			return nil, fmt.Errorf("attach %s: %w", f.Tracepoint, err)
		}
		s.links = append(s.links, l)
	}
	if s.reader, err = ringbuf.NewReader(s.events); err != nil {
		return nil, fmt.Errorf("ring buffer reader: %w", err)
	}
	return s, nil
}

func (s *ringSource) poll(wait time.Duration, deliver func(item)) error {
	s.reader.SetDeadline(time.Now().Add(wait))
	var rec ringbuf.Record
	for {
		err := s.reader.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ring buffer: %w", err)
		}
		s.reader.SetDeadline(time.Now())
		b := rec.RawSample
		if len(b) < ringRaw {
			continue
		}
		n := int(binary.NativeEndian.Uint32(b[ringSize:]))
		if ringRaw+n > len(b) {
			continue
		}
		pidTgid := binary.NativeEndian.Uint64(b[ringPidTgid:])
		at, tid := binary.NativeEndian.Uint64(b[ringTime:]), int(uint32(pidTgid))
		// The program saw the command that ran: name the thread after it
		// first (the sort is stable, the times equal).
		deliver(item{time: at, tid: tid, comm: cString(b[ringComm:ringRaw])})
		deliver(item{
			time: at,
			cpu:  int(binary.NativeEndian.Uint32(b[ringCPU:])),
			pid:  int(pidTgid >> 32), tid: tid,
			raw: append([]byte(nil), b[ringRaw:ringRaw+n]...),
		})
	}
}

func (s *ringSource) lostCounts() []uint64 {
	var perCPU []uint64
	if err := s.lost.Lookup(uint32(0), &perCPU); err == nil {
		copy(s.counts, perCPU)
	}
	return s.counts
}

// stop detaches the programs; the ring buffer keeps what they wrote.
func (s *ringSource) stop() {
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
}

func (s *ringSource) close() error {
	var errs []error
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	for _, m := range []*ebpf.Map{s.events, s.lost} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}
