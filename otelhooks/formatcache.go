package otelhooks

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Formatting an address allocates its string, and a client formats the same
// few again and again: the local address of every new connection, the
// answers of every lookup of the same name. The caches here remember the
// latest formatted values, process-wide, so that a repeat costs no
// allocation; a miss costs one more (the entry) than formatting alone.
//
// Each is a small direct-mapped table of immutable entries behind atomic
// pointers: safe for concurrent use without a lock, and bounded (formatCacheSlots
// entries each, replaced on a miss). They hold nothing but addresses and
// their text, which are a pure function of each other, so sharing them
// between transports leaks nothing from one to another.

// The handshake of every new TLS connection is described the same way too:
// the cipher suite's name, which tls.CipherSuiteName looks up in a list
// that tls.CipherSuites builds afresh on each call (14 allocations), and the
// server certificate's subject, issuer and expiry, formatted from the same
// certificate again and again (13 allocations for a two-part name).

// formatCacheSlots is the size of each cache: enough for the local
// addresses of a host and the answers of the names a client talks to most,
// small enough to scan in no time.
const formatCacheSlots = 16

// ipEntry is an IP address and its text, as net.IP.String writes it.
type ipEntry struct {
	ip netip.Addr
	s  string
}

var ipStrings [formatCacheSlots]atomic.Pointer[ipEntry]

// ipString returns ip.String(), from the cache if ip was formatted lately.
//
// The key is the address as net.IP holds it: a 4-byte IPv4 address and its
// 16-byte IPv4-mapped form are two keys, both formatted "a.b.c.d" by
// net.IP.String, so a hit is always the text that String would give.
func ipString(ip net.IP) string {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return ip.String() // nil or malformed: "<nil>" or "?…"
	}
	slot := &ipStrings[slotOf(addr)]
	if e := slot.Load(); e != nil && e.ip == addr {
		return e.s
	}
	s := ip.String()
	slot.Store(&ipEntry{ip: addr, s: s})
	return s
}

// answersEntry is the answers of a lookup and their dns.answers attribute.
type answersEntry struct {
	addrs []net.IPAddr // owned by the entry: a copy
	kv    attribute.KeyValue
}

var dnsAnswers [formatCacheSlots]atomic.Pointer[answersEntry]

// dnsAnswersAttr returns the dns.answers attribute of a lookup's addresses,
// each as net.IPAddr.String writes it, from the cache if the same answers
// came lately. Built afresh, it takes three allocations for one answer (the
// strings, the slice of them, the array the attribute copies them into); a
// hit takes none. An attribute.Value is immutable: one may be shared by any
// number of spans.
func dnsAnswersAttr(addrs []net.IPAddr) attribute.KeyValue {
	if len(addrs) == 0 {
		return semconv.DNSAnswers()
	}
	first, ok := netip.AddrFromSlice(addrs[0].IP)
	if !ok {
		return formatAnswers(addrs)
	}
	slot := &dnsAnswers[slotOf(first)]
	if e := slot.Load(); e != nil && sameAnswers(e.addrs, addrs) {
		return e.kv
	}
	kv := formatAnswers(addrs)
	e := &answersEntry{addrs: make([]net.IPAddr, len(addrs)), kv: kv}
	for i, a := range addrs {
		// The resolver's IP slices are not ours to keep.
		e.addrs[i] = net.IPAddr{IP: append(net.IP(nil), a.IP...), Zone: a.Zone}
	}
	slot.Store(e)
	return kv
}

func formatAnswers(addrs []net.IPAddr) attribute.KeyValue {
	answers := make([]string, len(addrs))
	for i, a := range addrs {
		answers[i] = a.String()
	}
	return semconv.DNSAnswers(answers...)
}

// sameAnswers reports whether a and b are the same addresses in the same
// order, byte for byte (so that they format the same).
func sameAnswers(a, b []net.IPAddr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Zone != b[i].Zone || string(a[i].IP) != string(b[i].IP) {
			return false
		}
	}
	return true
}

// slotOf returns the cache slot of addr: a hash of its last bytes, which
// differ most between the addresses of one client.
func slotOf(addr netip.Addr) int {
	b := addr.As16()
	h := uint32(2166136261) // FNV-1a
	for _, c := range b[10:] {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % formatCacheSlots)
}

// cipherSuiteNames are the names of the cipher suites crypto/tls knows,
// secure and insecure, built once.
var cipherSuiteNames = sync.OnceValue(func() map[uint16]string {
	names := map[uint16]string{}
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		names[c.ID] = c.Name
	}
	return names
})

// cipherSuiteName returns tls.CipherSuiteName(id) without allocating for a
// suite crypto/tls knows.
func cipherSuiteName(id uint16) string {
	if name, ok := cipherSuiteNames()[id]; ok {
		return name
	}
	return tls.CipherSuiteName(id)
}

// certEntry is a certificate, as its DER bytes, and its attributes.
type certEntry struct {
	raw   []byte // the certificate's own Raw: immutable, never written to
	attrs [3]attribute.KeyValue
}

var certAttrsCache [formatCacheSlots]atomic.Pointer[certEntry]

// appendCertAttrs appends tls.server.subject, tls.server.issuer and
// tls.server.not_after of the server's leaf certificate, from the cache if
// the same certificate (the same DER bytes) was described lately. The same
// bytes parse to the same names and dates, so a hit is what formatting would
// give.
func appendCertAttrs(attrs []attribute.KeyValue, leaf *x509.Certificate) []attribute.KeyValue {
	slot := &certAttrsCache[certSlot(leaf.Raw)]
	if e := slot.Load(); e != nil && bytes.Equal(e.raw, leaf.Raw) && len(leaf.Raw) > 0 {
		return append(attrs, e.attrs[:]...)
	}
	e := &certEntry{raw: leaf.Raw, attrs: [3]attribute.KeyValue{
		semconv.TLSServerSubject(leaf.Subject.String()),
		semconv.TLSServerIssuer(leaf.Issuer.String()),
		semconv.TLSServerNotAfter(leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z07:00")),
	}}
	if len(leaf.Raw) > 0 {
		// A certificate built in memory, not parsed, has no bytes to
		// compare: it is described every time.
		slot.Store(e)
	}
	return append(attrs, e.attrs[:]...)
}

// certSlot returns the cache slot of a certificate: a hash of its last
// bytes, the end of its signature, which differ between any two.
func certSlot(raw []byte) int {
	h := uint32(2166136261) // FNV-1a
	for _, c := range raw[max(0, len(raw)-8):] {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % formatCacheSlots)
}
