// Package t10 holds the small encodings that every SCSI device server
// repeats (SPC-4): space-padded ASCII identification fields and
// designation descriptors of the device identification VPD page. The
// block device server (scsi/sbc) and the media changer (scsi/smc) share
// them so that their INQUIRY data are built one way.
package t10
