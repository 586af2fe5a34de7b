// Package sense builds, encodes and parses SCSI sense data (SPC-4 4.5): the
// sense key, the additional sense code and qualifier, the tape flags of the
// stream commands (FILEMARK, EOM, ILI), the INFORMATION field and the
// sense-key specific field pointer that tells an application client which
// byte and bit of a CDB or parameter list it got wrong.
//
// A *Sense is an error, so device and copy-manager code returns it like any
// other error and the SCSI front end recovers it with errors.As to build the
// CHECK CONDITION response in fixed (70h) or descriptor (72h) format.
package sense
