package funcs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Network addresses. An address value (types.RenderInet) is 24 bytes: the
// address family in 8, then 16 bytes of address.

// ntop types ntop([af,] addr): an IPv4 address held in an integer, in
// network byte order as the kernel stores it; a 4- or 16-byte array in
// memory; or an address ntop() or pton() already made.
var ntop = Func{
	Name: "ntop", Min: 1, Max: 2, Doc: "an IPv4 or IPv6 address, printed as text",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		addr := e.Args[len(e.Args)-1]
		t, reported := c.ExprReported(addr)
		if len(e.Args) == 2 {
			if af, reported := c.ExprReported(e.Args[0]); !af.IsInt() && !reported {
				c.Errorf(e.Args[0].Span(), "type", "ntop() needs an address family (AF_INET is 2, AF_INET6 is 10), not %s", af)
			}
			if lit, ok := e.Args[0].(*syntax.IntLit); ok && lit.Value != unix.AF_INET && lit.Value != unix.AF_INET6 {
				c.Errorf(lit.Sp, "arguments", "ntop() knows the address families 2 (AF_INET) and 10 (AF_INET6), not %d", lit.Value)
			}
		}
		switch {
		case reported:
		case t.IsInt():
		case addressBytes(t, c.CType(addr)) && c.Addressable(addr):
		case t.Kind == types.Text && t.Render == types.RenderInet:
			if len(e.Args) == 2 {
				c.Errorf(e.Args[0].Span(), "arguments", "this address already has its family; call ntop() with the address alone")
			}
		default:
			c.Errorf(addr.Span(), "type", "ntop() needs an IPv4 address as an integer, a 4- or 16-byte array in memory, or an address from pton(), not %s", t).
				Hint("the kernel keeps an IPv4 address in a 32-bit integer in network byte order, or in __u8 saddr[4]: ntop(args.saddr)")
		}
		return types.Rendered(types.RenderInet)
	},
	To: func(g Generator, e *syntax.CallExpr, dst int16, t types.Type) {
		addr := e.Args[len(e.Args)-1]
		at := g.Type(addr)
		switch {
		case at.Kind == types.Text:
			g.To(addr, dst, t)
			return
		case at.Kind == types.Array || at.Kind == types.Str:
			addressFromBytes(g, e, addr, at.Size, dst)
			return
		}
		storeFamily(g, e, dst, unix.AF_INET)
		g.Int(addr)
		g.Emit(asm.StoreMem(asm.R10, dst+8, asm.R0, asm.DWord), emit.StoreDW(asm.R10, dst+16, 0))
	},
	Text: types.RenderInet,
	Render: func(b []byte) string {
		switch binary.LittleEndian.Uint64(b) {
		case unix.AF_INET:
			return netip.AddrFrom4([4]byte(b[8:12])).String()
		case unix.AF_INET6:
			// As inet_ntop prints it: an IPv4-mapped address keeps its
			// ::ffff: prefix.
			return netip.AddrFrom16([16]byte(b[8:24])).String()
		}
		return ""
	},
}

// addressBytes reports whether t, of C type ctype, is an array that holds
// an address: 4 or 16 bytes, whatever the byte type is called (__u8,
// unsigned char, ...), but not a char array, which is text.
func addressBytes(t types.Type, ctype string) bool {
	switch {
	case t.Size != 4 && t.Size != 16:
		return false
	case t.Kind == types.Array:
		return t.Size == t.Len
	case t.Kind == types.Str:
		return !strings.HasPrefix(strings.TrimPrefix(ctype, "const "), "char")
	}
	return false
}

// storeFamily writes ntop()'s family at dst: the one given, or def.
func storeFamily(g Generator, e *syntax.CallExpr, dst int16, def int64) {
	if len(e.Args) == 2 {
		g.Int(e.Args[0])
		g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
		return
	}
	g.Emit(emit.StoreDW(asm.R10, dst, def))
}

// addressFromBytes writes ntop()'s value for an address held in a 4- or
// 16-byte array: the family (given, or told by the length), then the
// bytes, read from the context or from memory.
func addressFromBytes(g Generator, e *syntax.CallExpr, addr syntax.Expr, n int, dst int16) {
	def := int64(unix.AF_INET)
	if n == 16 {
		def = unix.AF_INET6
	}
	storeFamily(g, e, dst, def)
	g.Zero(dst+8, 16)
	space := types.Kernel
	if a, ok := g.Arg(addr); ok { // a tracepoint field: in the context
		g.Emit(asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, int32(a.Offset)))
	} else {
		space = g.Addr(addr)
		g.Emit(asm.Mov.Reg(asm.R3, asm.R0))
	}
	fn := emit.ProbeRead(space)
	g.StackPtr(asm.R1, dst+8)
	g.Emit(asm.Mov.Imm(asm.R2, int32(n)), fn.Call())
	g.CheckHelper(fn)
}

// pton parses an address literal now. An IPv4 address is the 32-bit
// integer the kernel keeps it as (network byte order in memory), so it
// compares with addresses read from the kernel; an IPv6 address is a
// 16-byte value that ntop() and printf("%s") show.
var pton = Func{
	Name: "pton", Min: 1, Max: 1, Doc: "an address literal: IPv4 as the kernel's 32-bit integer, IPv6 as an address value",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "the address", `pton("127.0.0.1")`)
		if !ok {
			return types.UInt64
		}
		ip, err := netip.ParseAddr(lit.Value)
		switch {
		case err != nil || ip.Zone() != "":
			c.Errorf(lit.Sp, "arguments", "%q is not an IPv4 or IPv6 address", lit.Value).
				Hint(`for example pton("127.0.0.1") or pton("::1")`)
			return types.UInt64
		case ip.Is4():
			v4 := ip.As4()
			c.SetConst(e, uint64(binary.LittleEndian.Uint32(v4[:])))
			return types.UInt64
		}
		return types.Rendered(types.RenderInet)
	},
	Int: loadConst,
	To: func(g Generator, e *syntax.CallExpr, dst int16, t types.Type) {
		ip := netip.MustParseAddr(e.Args[0].(*syntax.StringLit).Value).As16()
		g.Emit(emit.StoreDW(asm.R10, dst, unix.AF_INET6))
		for i := 0; i < 16; i += 8 {
			g.Emit(asm.LoadImm(asm.R1, int64(binary.LittleEndian.Uint64(ip[i:])), asm.DWord),
				asm.StoreMem(asm.R10, dst+8+int16(i), asm.R1, asm.DWord))
		}
	},
}

var macaddr = Func{
	Name: "macaddr", Min: 1, Max: 1, Doc: "6 bytes at an address, printed as a MAC address",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if t, reported := c.ExprReported(e.Args[0]); !t.IsInt() && !reported {
			c.Errorf(e.Args[0].Span(), "type", "macaddr() needs a pointer to 6 bytes, not %s", t)
		}
		return types.Rendered(types.RenderMAC)
	},
	To: func(g Generator, e *syntax.CallExpr, dst int16, t types.Type) {
		g.Int(e.Args[0])
		g.Emit(asm.Mov.Reg(asm.R3, asm.R0), emit.StoreDW(asm.R10, dst, 0))
		g.StackPtr(asm.R1, dst)
		g.Emit(asm.Mov.Imm(asm.R2, 6))
		space := types.Kernel
		if at := g.Type(e.Args[0]); at.Kind == types.Ptr {
			space = at.AddrSpace
		}
		fn := emit.ProbeRead(space)
		g.Emit(fn.Call())
		g.CheckHelper(fn)
	},
	Render: func(b []byte) string {
		return fmt.Sprintf("%02X:%02X:%02X:%02X:%02X:%02X", b[0], b[1], b[2], b[3], b[4], b[5])
	},
}
