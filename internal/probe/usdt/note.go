package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// Note is one USDT probe site, as its .note.stapsdt entry describes it.
type Note struct {
	Provider, Name string
	// PC is the address of the probe's nop, Base the address the note
	// expected .stapsdt.base at, Semaphore the address of the probe's
	// enabled counter or 0. All are virtual addresses as linked; Notes
	// adjusts PC and Semaphore when the file was prelinked.
	PC, Base, Semaphore uint64
	// Args is the argument specification, e.g. "-4@%edi 8@%rax".
	Args string
}

// Notes reads the USDT probes of an ELF file: the stapsdt notes of its
// .note.stapsdt section, none when it has no such section. When the file
// was prelinked (moved to another base address), .stapsdt.base has moved
// with it and the notes' addresses move by the same amount, as the
// SystemTap SDT specification says.
func Notes(f *elf.File) ([]Note, error) {
	sec := f.Section(".note.stapsdt")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .note.stapsdt: %w", err)
	}
	notes, err := ParseNotes(data, f.ByteOrder, f.Class, sec.Addralign)
	if err != nil {
		return nil, err
	}
	if base := f.Section(".stapsdt.base"); base != nil {
		for i := range notes {
			n := &notes[i]
			n.PC += base.Addr - n.Base
			if n.Semaphore != 0 {
				n.Semaphore += base.Addr - n.Base
			}
		}
	}
	return notes, nil
}

// stapsdtType is the note type of SystemTap SDT probes (version 3).
const stapsdtType = 3

// ParseNotes parses the contents of an ELF note section and returns its
// stapsdt notes; notes of other owners or types are skipped. Each note is
// a header of three words (name size, descriptor size, type), the owner
// name and the descriptor, each padded to the section's alignment (4, or
// 8 when align says so). A stapsdt descriptor holds three addresses of
// the file's class (pc, base, semaphore) and three NUL-terminated strings
// (provider, name, argument specification).
func ParseNotes(data []byte, order binary.ByteOrder, class elf.Class, align uint64) ([]Note, error) {
	pad := uint64(4)
	if align == 8 {
		pad = 8
	}
	addrSize := 8
	if class == elf.ELFCLASS32 {
		addrSize = 4
	}
	var notes []Note
	for off := uint64(0); off < uint64(len(data)); {
		if uint64(len(data))-off < 12 {
			return nil, fmt.Errorf("stapsdt note at %d: truncated header", off)
		}
		nameSize := uint64(order.Uint32(data[off:]))
		descSize := uint64(order.Uint32(data[off+4:]))
		typ := order.Uint32(data[off+8:])
		nameOff := off + 12
		descOff := nameOff + roundUp(nameSize, pad)
		end := descOff + roundUp(descSize, pad)
		// Sizes are 32-bit, so these sums cannot overflow 64 bits.
		if end > uint64(len(data)) || descOff+descSize > uint64(len(data)) {
			return nil, fmt.Errorf("stapsdt note at %d: its sizes run past the section's end", off)
		}
		name := data[nameOff : nameOff+nameSize]
		desc := data[descOff : descOff+descSize]
		off = end
		if typ != stapsdtType || string(bytes.TrimRight(name, "\x00")) != "stapsdt" {
			continue
		}
		n, err := parseDesc(desc, order, addrSize)
		if err != nil {
			return nil, fmt.Errorf("stapsdt note at %d: %w", nameOff-12, err)
		}
		notes = append(notes, n)
	}
	return notes, nil
}

func parseDesc(desc []byte, order binary.ByteOrder, addrSize int) (Note, error) {
	if len(desc) < 3*addrSize {
		return Note{}, fmt.Errorf("descriptor of %d bytes is too short", len(desc))
	}
	addr := func(i int) uint64 {
		if addrSize == 4 {
			return uint64(order.Uint32(desc[i*4:]))
		}
		return order.Uint64(desc[i*8:])
	}
	n := Note{PC: addr(0), Base: addr(1), Semaphore: addr(2)}
	// Provider and name end in NULs; the argument string does too, or is
	// absent in probes without arguments.
	strs := bytes.SplitN(desc[3*addrSize:], []byte{0}, 4)
	if len(strs) < 3 || len(strs) == 3 && len(strs[2]) > 0 {
		return Note{}, fmt.Errorf("descriptor's strings are not NUL-terminated")
	}
	n.Provider, n.Name, n.Args = string(strs[0]), string(strs[1]), string(strs[2])
	if n.Provider == "" || n.Name == "" {
		return Note{}, fmt.Errorf("descriptor has an empty provider or name")
	}
	return n, nil
}

func roundUp(n, to uint64) uint64 { return (n + to - 1) &^ (to - 1) }
