// Package faultproxy forwards TCP connections and UDP datagrams from a
// listening address to a target, and can cut the path and heal it again, so
// that integration tests can partition one process of a local cluster
// without stopping it: a node advertises the proxy's port instead of its
// own, peers reach it only through the proxy, and Cut isolates it.
//
// Cut closes every forwarded TCP connection with a reset, resets each new
// one as soon as it is accepted and drops every UDP datagram, in both
// directions; Heal forwards again. The proxy never parses what it carries.
//
// Traffic the proxied process starts itself does not pass through its own
// proxy: a test that wants a two-way partition puts every peer behind a
// proxy, or relies on the protocol answering through the proxied address
// (memberlist acknowledges a ping at the sender's advertised address, Raft
// replies are messages to the sender's advertised address).
package faultproxy
