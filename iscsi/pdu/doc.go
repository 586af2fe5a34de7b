// Package pdu is the iSCSI wire format of RFC 7143: the 48-byte Basic
// Header Segment of every opcode a target sends or receives, additional
// header segments, data segment padding, CRC32C header and data digests,
// and the key=value text format of login and text negotiation. It knows
// nothing of sessions or negotiation rules; package iscsi builds those on it.
package pdu
