package engine

// ring is a BPF ring buffer's bookkeeping: records queue in order and hold
// room (an 8-byte header plus the data rounded up to 8, as in the kernel)
// from their reservation until the consumer passes them; a consumer stops
// at the first record still reserved.
type ring struct {
	size       uint64
	prod, cons uint64 // byte positions, as bpf_ringbuf_query reports them
	queue      []*record
	onRecord   func([]byte)
	refused    uint64
}

type record struct {
	data      []byte
	room      uint64
	busy      bool // reserved, neither submitted nor discarded
	discarded bool
}

// Flags of bpf_ringbuf_output, submit and discard, and what
// bpf_ringbuf_query answers.
const (
	ringNoWakeup    = 1
	ringForceWakeup = 2
	queryAvailData  = 0
	queryRingSize   = 1
	queryConsPos    = 2
	queryProdPos    = 3
)

const ringHeader = 8

// reserve returns a busy record of n bytes, or nil when the ring has no
// room for it.
func (r *ring) reserve(n uint64) *record {
	room := (n + ringHeader + 7) &^ 7
	// As in the kernel, the ring never fills to its last byte: the
	// producer stays less than a whole ring ahead of the consumer.
	if room >= r.size || r.prod-r.cons+room >= r.size {
		r.refused++
		return nil
	}
	rec := &record{data: make([]byte, n), room: room, busy: true}
	r.prod += room
	r.queue = append(r.queue, rec)
	return rec
}

// commit ends rec's reservation, and hands on what a consumer that
// follows every record at once (SetOnRecord) can now read.
func (r *ring) commit(rec *record, discard bool) {
	rec.busy, rec.discarded = false, discard
	if r.onRecord != nil {
		r.consume(r.onRecord)
	}
}

// consume passes every committed record at the head of the queue to fn
// (discarded ones only free their room) and frees their room.
func (r *ring) consume(fn func([]byte)) {
	n := 0
	for _, rec := range r.queue {
		if rec.busy {
			break
		}
		r.cons += rec.room
		n++
		if !rec.discarded {
			fn(rec.data)
		}
	}
	r.queue = append(r.queue[:0], r.queue[n:]...)
}

func (r *ring) query(flags uint64) uint64 {
	switch flags {
	case queryAvailData:
		return r.prod - r.cons
	case queryRingSize:
		return r.size
	case queryConsPos:
		return r.cons
	case queryProdPos:
		return r.prod
	}
	return 0
}

// SetOnRecord makes a ring buffer map hand each record to fn as soon as it
// is submitted (fn must copy what it keeps), so that the ring never fills.
// Without it, records wait for Records.
func (m *Map) SetOnRecord(fn func(record []byte)) {
	if m.ring != nil {
		m.ring.onRecord = fn
	}
}

// Records returns the submitted records of a ring buffer map in order and
// frees their room, as a consumer reading the ring does.
func (m *Map) Records() [][]byte {
	if m.ring == nil {
		return nil
	}
	var out [][]byte
	m.ring.consume(func(b []byte) { out = append(out, b) })
	return out
}

// Refused returns how many records a ring buffer map refused for lack of
// room, which the program saw as a failed bpf_ringbuf_output or reserve.
func (m *Map) Refused() uint64 {
	if m.ring == nil {
		return 0
	}
	return m.ring.refused
}
