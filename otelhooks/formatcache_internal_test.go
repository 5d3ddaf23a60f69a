package otelhooks

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

func TestIPStringIsWhatNetIPStringWrites(t *testing.T) {
	for _, ip := range []net.IP{
		net.IPv4(127, 0, 0, 1),         // 16 bytes, IPv4-mapped
		net.IPv4(127, 0, 0, 1).To4(),   // 4 bytes
		net.ParseIP("::1"),             // IPv6
		net.ParseIP("fe80::1"),         // link-local
		net.ParseIP("::ffff:10.0.0.1"), // IPv4-mapped, parsed
		nil,
		{1, 2, 3}, // malformed
	} {
		t.Run(fmt.Sprintf("%v", []byte(ip)), func(t *testing.T) {
			want := ip.String()
			assert.Equal(t, want, ipString(ip), "first, formatted")
			assert.Equal(t, want, ipString(ip), "again, from the cache")
		})
	}
}

func TestIPStringRepeatedAllocatesNothing(t *testing.T) {
	ip := net.IPv4(192, 0, 2, 7)
	ipString(ip)
	assert.Zero(t, testing.AllocsPerRun(100, func() { ipString(ip) }))
}

func TestIPStringSlotCollisionsGiveEachItsOwnText(t *testing.T) {
	// More addresses than slots: some share a slot and replace each
	// other; every answer is still the address's own text.
	for round := range 2 {
		for i := range 4 * formatCacheSlots {
			ip := net.IPv4(10, 0, byte(i/256), byte(i))
			assert.Equal(t, ip.String(), ipString(ip), "round %d, address %d", round, i)
		}
	}
}

func TestDNSAnswersAttrIsWhatFormattingGives(t *testing.T) {
	for _, addrs := range [][]net.IPAddr{
		nil,
		{{IP: net.IPv4(127, 0, 0, 1)}},
		{{IP: net.ParseIP("::1")}, {IP: net.IPv4(127, 0, 0, 1)}},
		{{IP: net.ParseIP("fe80::1"), Zone: "eth0"}},
		{{IP: net.IP{1, 2, 3}}}, // malformed: not cached
	} {
		t.Run(fmt.Sprint(addrs), func(t *testing.T) {
			want := make([]string, len(addrs))
			for i, a := range addrs {
				want[i] = a.String()
			}
			assert.Equal(t, semconv.DNSAnswers(want...), dnsAnswersAttr(addrs), "first, formatted")
			assert.Equal(t, semconv.DNSAnswers(want...), dnsAnswersAttr(addrs), "again, from the cache")
		})
	}
}

func TestDNSAnswersAttrKeepsItsOwnCopyOfTheAddresses(t *testing.T) {
	ip := net.IPv4(198, 51, 100, 1).To4()
	addrs := []net.IPAddr{{IP: ip}}
	dnsAnswersAttr(addrs)
	// The resolver reuses or changes its slices: the cached entry must not
	// follow them.
	ip[3] = 2
	assert.Equal(t, semconv.DNSAnswers("198.51.100.2"), dnsAnswersAttr(addrs))
	assert.Equal(t, semconv.DNSAnswers("198.51.100.1"), dnsAnswersAttr([]net.IPAddr{{IP: net.IPv4(198, 51, 100, 1).To4()}}))
}

func TestDNSAnswersAttrDiffersByOrderAndZone(t *testing.T) {
	a, b := net.IPAddr{IP: net.IPv4(203, 0, 113, 1)}, net.IPAddr{IP: net.IPv4(203, 0, 113, 2)}
	assert.Equal(t, semconv.DNSAnswers("203.0.113.1", "203.0.113.2"), dnsAnswersAttr([]net.IPAddr{a, b}))
	assert.Equal(t, semconv.DNSAnswers("203.0.113.1"), dnsAnswersAttr([]net.IPAddr{a}))
	zoned := net.IPAddr{IP: net.ParseIP("fe80::2"), Zone: "lo"}
	plain := net.IPAddr{IP: net.ParseIP("fe80::2")}
	assert.Equal(t, semconv.DNSAnswers("fe80::2%lo"), dnsAnswersAttr([]net.IPAddr{zoned}))
	assert.Equal(t, semconv.DNSAnswers("fe80::2"), dnsAnswersAttr([]net.IPAddr{plain}))
}

func TestDNSAnswersAttrRepeatedAllocatesNothing(t *testing.T) {
	addrs := []net.IPAddr{{IP: net.IPv4(192, 0, 2, 9)}}
	dnsAnswersAttr(addrs)
	assert.Zero(t, testing.AllocsPerRun(100, func() { dnsAnswersAttr(addrs) }))
}

func TestFormatCachesAreSafeForConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				ip := net.IPv4(10, 1, byte(g), byte(i))
				assert.Equal(t, ip.String(), ipString(ip))
				addrs := []net.IPAddr{{IP: ip}}
				assert.Equal(t, semconv.DNSAnswers(ip.String()), dnsAnswersAttr(addrs))
			}
		})
	}
	wg.Wait()
}

func TestCipherSuiteNameIsWhatCryptoTLSNames(t *testing.T) {
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		assert.Equal(t, tls.CipherSuiteName(c.ID), cipherSuiteName(c.ID))
	}
	assert.Equal(t, tls.CipherSuiteName(0xfefe), cipherSuiteName(0xfefe), "unknown")
	assert.Zero(t, testing.AllocsPerRun(100, func() { cipherSuiteName(tls.TLS_AES_128_GCM_SHA256) }))
}

func TestCertAttrsAreWhatFormattingGives(t *testing.T) {
	ca := testnet.NewCA(t, "wiretrace format CA")
	leaves := []*x509.Certificate{
		parseLeaf(t, ca.Leaf(t, "one.example", "one.example")),
		parseLeaf(t, ca.Leaf(t, "two.example", "two.example")),
	}
	for round := range 2 {
		for _, leaf := range leaves {
			want := []attribute.KeyValue{
				semconv.TLSServerSubject(leaf.Subject.String()),
				semconv.TLSServerIssuer(leaf.Issuer.String()),
				semconv.TLSServerNotAfter(leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z07:00")),
			}
			assert.Equal(t, want, appendCertAttrs(nil, leaf), "round %d, %s", round, leaf.Subject)
		}
	}
	buf := make([]attribute.KeyValue, 0, 3)
	assert.Zero(t, testing.AllocsPerRun(100, func() { appendCertAttrs(buf, leaves[0]) }), "a certificate seen before")
}

func TestCertAttrsOfACertificateWithoutBytesAreFormattedEachTime(t *testing.T) {
	a := &x509.Certificate{Subject: pkix.Name{CommonName: "a"}, Issuer: pkix.Name{CommonName: "ca"}}
	b := &x509.Certificate{Subject: pkix.Name{CommonName: "b"}, Issuer: pkix.Name{CommonName: "ca"}}
	assert.Equal(t, semconv.TLSServerSubject("CN=a"), appendCertAttrs(nil, a)[0])
	assert.Equal(t, semconv.TLSServerSubject("CN=b"), appendCertAttrs(nil, b)[0])
}

func parseLeaf(t *testing.T, c tls.Certificate) *x509.Certificate {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	require.NoError(t, err)
	return leaf
}
