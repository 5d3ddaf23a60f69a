//go:build linux

package otelhooks_test

// tcpInfoSupported is whether the connection facts are read on this
// platform.
const tcpInfoSupported = true
