// Package xcopy encodes and decodes the SPC-4 EXTENDED COPY (LID1) parameter
// list and the RECEIVE COPY RESULTS data a copy manager returns, byte for
// byte, and validates a received parameter list the way a copy manager must
// before it moves any data.
//
// Decode turns the Data-Out buffer of an EXTENDED COPY command into a
// ParameterList, or fails with a *sense.Sense holding the CHECK CONDITION
// sense data SPC-4 prescribes (ILLEGAL REQUEST with a field pointer for a
// malformed list, COPY ABORTED for a segment that names an unusable copy
// target). Encode is its exact inverse for every list Decode accepts.
//
// Supported descriptors: the identification CSCD descriptor (E4h) with an NAA
// designator, for block (peripheral device type 00h) and stream (01h)
// devices; segment descriptors 00h block→stream, 01h stream→block,
// 02h block→block, 03h stream→stream, 04h inline data→stream,
// 06h stream→discard, 07h verify CSCD, 0Ah block→block with byte offsets,
// 10h write filemarks, 11h space, 12h locate and 13h tape image copy.
//
// Where SPC-4 leaves the copy manager a choice, this package decides as
// follows, and Limits can narrow what it accepts:
//   - the LU ID TYPE and NUL bits of a CSCD descriptor are kept but not
//     checked (SPC-4 made NUL obsolete and leaves LU ID TYPE to E4h's
//     designator); PROTOCOL IDENTIFIER and PIV are ignored and re-encoded
//     as zero, since they mean nothing for a logical-unit designator;
//   - LIST ID USAGE 01b is reserved and refused (sg3_utils offers only 00b,
//     10b and 11b); 11b is accepted with any LIST IDENTIFIER, because
//     libiscsi's tests send it with identifier 1;
//   - bytes after the parameter list's inline data are ignored;
//   - a segment moving zero blocks or bytes is valid, as SPC-4 says;
//   - a CSCD index past the CSCD list is COPY ABORTED, UNREACHABLE COPY
//     TARGET, and a CSCD of the wrong device type for the segment is COPY
//     ABORTED, INVALID OPERATION FOR COPY SOURCE OR DESTINATION; both carry
//     the segment's index in COMMAND-SPECIFIC INFORMATION bytes 2-3 and a
//     segment pointer (SD set) to the offending field;
//   - inline data longer than Limits.MaxInlineData is ILLEGAL REQUEST,
//     INLINE DATA LENGTH EXCEEDED; a 04h segment reaching past the inline
//     data is COPY ABORTED, INLINE DATA LENGTH EXCEEDED;
//   - write filemarks with WSMK set (setmarks, obsolete in SSC-3) and space
//     codes other than blocks, filemarks and end-of-data are refused with
//     INVALID FIELD IN PARAMETER LIST;
//   - every LBA × block length (+ byte offset) + length is computed with
//     overflow checks (Extents): a byte range that does not end below 2^63
//     is ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE, with the LBA
//     as INFORMATION and a field pointer to the LBA field. Whether the
//     range fits the device is the copy manager's check, not this package's;
//   - CSCDs with one NAA designator are one device: a block→block segment
//     (02h, 0Ah) whose source and destination ranges overlap on it, and a
//     stream→stream (03h) or tape image copy (13h) from a tape onto itself,
//     are INVALID FIELD IN PARAMETER LIST pointing at the destination LBA
//     or the destination CSCD index. Segments run one after the other, so
//     a segment may read what an earlier one wrote.
package xcopy
