//go:build !race

package test

const raceBuild = false
