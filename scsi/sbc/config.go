package sbc

import "log/slog"

// Config describes the device server. The zero value of every field means
// its documented default; see withDefaults.
type Config struct {
	// Vendor is the T10 VENDOR IDENTIFICATION, at most 8 ASCII characters.
	// Default "FERRY".
	Vendor string
	// Product is the PRODUCT IDENTIFICATION, at most 16 ASCII characters.
	// Default "DISK".
	Product string
	// Revision is the PRODUCT REVISION LEVEL, at most 4 ASCII characters.
	// Default "0001".
	Revision string
	// MaxTransferBytes bounds one READ or WRITE, in bytes; the block
	// limits VPD page reports it in blocks. Default 32 MiB, the iSCSI
	// target's default bound on one command's data-out (libiscsi's
	// WriteSame16.Unmap writes 65536 512-byte blocks at once).
	MaxTransferBytes uint32
	// OptimalTransferBytes is the OPTIMAL TRANSFER LENGTH, in bytes.
	// Default 1 MiB.
	OptimalTransferBytes uint32
	// OptimalGranularityBytes is the OPTIMAL TRANSFER LENGTH GRANULARITY,
	// in bytes: transfers should be multiples of it. Default 4096.
	OptimalGranularityBytes uint32
	// PhysicalBlockBytes is the physical block size READ CAPACITY(16)
	// reports (as LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT): writes of
	// less than this much cost the backing store a read-modify-write of a
	// page. A LUN whose logical blocks are at least this large reports
	// one logical block per physical block, as does a value that is not a
	// power of two. Default 4096.
	PhysicalBlockBytes uint32
	// MaxWriteSameBlocks is the MAXIMUM WRITE SAME LENGTH in blocks; zero
	// means no limit (WRITE SAME writes in chunks and stops when the
	// command's context ends). Default 0.
	MaxWriteSameBlocks uint64
	// RelativePortID is the RELATIVE TARGET PORT IDENTIFIER of the port
	// this server answers through (VPD page 83h). Each node's portal is a
	// distinct target port of the cluster's target, so each node needs its
	// own. Default 1.
	RelativePortID uint16
	// TargetName is the iSCSI name of the target (VPD page 83h SCSI target
	// device name), such as "iqn.2026-11.io.ferry:prod". Default: omitted.
	TargetName string
	// PortName is the SCSI name of the target port (VPD page 83h), by
	// RFC 7143 the target name followed by ",t,0x" and the target portal
	// group tag, such as "iqn.2026-11.io.ferry:prod,t,0x0001". Default:
	// omitted.
	PortName string
	// Reservations keeps the LUNs' SCSI reservations; a cluster keeps them
	// in its log, so that every node's portal enforces the same ones.
	// Default: in memory, for this server alone.
	Reservations Reservations
	// Logger receives I/O failures. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Vendor == "" {
		c.Vendor = "FERRY"
	}
	if c.Product == "" {
		c.Product = "DISK"
	}
	if c.Revision == "" {
		c.Revision = "0001"
	}
	if c.MaxTransferBytes == 0 {
		c.MaxTransferBytes = 32 << 20
	}
	if c.OptimalTransferBytes == 0 {
		c.OptimalTransferBytes = 1 << 20
	}
	if c.OptimalGranularityBytes == 0 {
		c.OptimalGranularityBytes = 4096
	}
	if c.PhysicalBlockBytes == 0 {
		c.PhysicalBlockBytes = 4096
	}
	if c.RelativePortID == 0 {
		c.RelativePortID = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// blocks converts a byte count of the config to whole blocks of size bs,
// at least one.
func blocks(bytes, bs uint32) uint32 {
	return max(bytes/bs, 1)
}
