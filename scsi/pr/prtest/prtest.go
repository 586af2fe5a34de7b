// Package prtest builds the reservation commands tests send: PERSISTENT
// RESERVE OUT CDBs and their basic parameter lists, for the tests of the
// state machine, the cluster's reservation store and the multi-process
// tests alike.
package prtest

import "encoding/binary"

// OutCDB is a PERSISTENT RESERVE OUT CDB of a service action and a
// reservation type, with a 24-byte parameter list.
func OutCDB(serviceAction, typ byte) []byte {
	cdb := make([]byte, 10)
	cdb[0], cdb[1], cdb[2] = 0x5F, serviceAction&0x1f, typ&0x0f
	binary.BigEndian.PutUint32(cdb[5:9], 24)
	return cdb
}

// Keys is the basic 24-byte parameter list: the reservation key and the
// service action reservation key.
func Keys(key, sark uint64) []byte {
	p := make([]byte, 24)
	binary.BigEndian.PutUint64(p[0:8], key)
	binary.BigEndian.PutUint64(p[8:16], sark)
	return p
}
