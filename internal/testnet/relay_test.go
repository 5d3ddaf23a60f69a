package testnet

import (
	"encoding/binary"
	"testing"
)

// frame returns an HTTP/2 frame header and payload of the given type.
func frame(typ byte, payload int) []byte {
	b := make([]byte, 9+payload)
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(payload))
	copy(b, l[1:])
	b[3] = typ
	return b
}

func TestHeaderScannerFindsTheEndOfAHeaderBlock(t *testing.T) {
	settings, headers, data := frame(0x4, 6), frame(0x1, 20), frame(0x0, 100)
	h2 := append(append(append([]byte(nil), settings...), headers...), data...)
	h2End := len(settings) + len(headers)
	h1 := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
	h1End := len(h1) - 3
	for _, tc := range []struct {
		name   string
		http2  bool
		stream []byte
		want   int // offset in stream just past the header block
	}{
		{"HTTP/1", false, h1, h1End},
		{"HTTP/2", true, h2, h2End},
	} {
		// Every split of the stream in two reads, armed from the start.
		for cut := 0; cut <= len(tc.stream); cut++ {
			s := headerScanner{http2: tc.http2, armed: true}
			got := s.scan(tc.stream[:cut])
			if got < 0 {
				if end := s.scan(tc.stream[cut:]); end >= 0 {
					got = cut + end
				}
			}
			if got != tc.want {
				t.Errorf("%s, split at %d: end of headers at %d, want %d", tc.name, cut, got, tc.want)
			}
		}
	}
	// Not armed: frames are followed, no end is reported; armed later,
	// the next HEADERS frame is found.
	s := headerScanner{http2: true}
	if end := s.scan(settings); end != -1 {
		t.Errorf("unarmed scanner reported %d", end)
	}
	s.armed = true
	if end := s.scan(append(append([]byte(nil), headers...), data...)); end != len(headers) {
		t.Errorf("armed after SETTINGS: end at %d, want %d", end, len(headers))
	}
}
