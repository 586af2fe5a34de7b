package sense

// Conditions of sequential-access (tape) commands, as SSC-3 reports them.
// The residue is the requested transfer length minus the actual one, in
// bytes for variable-block transfers and in blocks for fixed ones.

// Filemark is a read or space stopped by a filemark: NO SENSE, FILEMARK,
// FILEMARK DETECTED.
func Filemark(residue uint64) *Sense {
	s := New(NoSense, FilemarkDetected).WithInformation(residue)
	s.Filemark = true
	return s
}

// EarlyWarning is a write that succeeded inside the early-warning zone:
// NO SENSE, EOM, END-OF-PARTITION/MEDIUM DETECTED, residue zero.
func EarlyWarning() *Sense {
	s := New(NoSense, EndOfPartitionDetected).WithInformation(0)
	s.EOM = true
	return s
}

// EndOfMedium is a write that ran out of medium: VOLUME OVERFLOW, EOM,
// END-OF-PARTITION/MEDIUM DETECTED.
func EndOfMedium(residue uint64) *Sense {
	s := New(VolumeOverflow, EndOfPartitionDetected).WithInformation(residue)
	s.EOM = true
	return s
}

// BeginningOfPartition is a backward space or read that reached the
// beginning of the partition: NO SENSE, EOM,
// BEGINNING-OF-PARTITION/MEDIUM DETECTED.
func BeginningOfPartition(residue uint64) *Sense {
	s := New(NoSense, BeginningOfPartitionDetected).WithInformation(residue)
	s.EOM = true
	return s
}

// EndOfData is a read, space or locate that met end-of-data: BLANK CHECK,
// END-OF-DATA DETECTED.
func EndOfData(residue uint64) *Sense {
	return New(BlankCheck, EndOfDataDetected).WithInformation(residue)
}

// IncorrectLength is a read whose block length differed from the request:
// NO SENSE, ILI. A negative residue (the block was longer than asked for)
// is stored as its 32-bit two's complement, as SSC-3 specifies for the
// 4-byte INFORMATION field.
func IncorrectLength(residue int32) *Sense {
	s := New(NoSense, NoAdditionalSense).WithInformation(uint64(uint32(residue)))
	s.ILI = true
	return s
}
