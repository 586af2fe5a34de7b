package pdu

// PDU is one iSCSI protocol data unit: its header, its additional header
// segments and its data segment, all without padding or digests.
type PDU struct {
	Header Header
	AHS    []byte
	Data   []byte
}

// Message is a typed view of a BHS.
type Message interface {
	// Marshal writes the message into h. The data segment and AHS lengths
	// are filled by Build, not by Marshal.
	Marshal(h *Header)
	// Unmarshal reads the message from h.
	Unmarshal(h *Header)
}

// Build returns the PDU carrying m with data as its data segment.
func Build(m Message, data []byte) *PDU {
	p := &PDU{Data: data}
	m.Marshal(&p.Header)
	p.Header.setLengths(0, len(data))
	return p
}

// pad4 is n rounded up to a multiple of four.
func pad4(n int) int { return (n + 3) &^ 3 }
