// Package cunit reads the report of a CUnit test program, such as
// libiscsi's conformance tool iscsi-test-cu, into each test's real
// outcome.
//
// CUnit has no notion of a skipped test: libiscsi prints "[SKIPPED] reason"
// and returns, and CUnit then reports the test as passed. A conformance
// figure taken from CUnit's own summary therefore counts every command the
// target does not implement as a pass. Parse tells the three apart — a test
// that printed [SKIPPED] and did not fail is Skipped — so that the tests
// and the benchmark can count real passes, list every skip with its reason
// and compare two targets suite by suite (Table).
package cunit
