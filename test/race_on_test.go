//go:build race

package test

// raceBuild says this test binary runs under the race detector, and so
// should the agents it starts.
const raceBuild = true
