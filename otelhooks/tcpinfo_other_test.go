//go:build !linux

package otelhooks_test

const tcpInfoSupported = false
