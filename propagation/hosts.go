package propagation

import (
	"net/netip"
	"net/url"
	"strings"
)

// TrustedHosts returns a host policy, for [WithHostPolicy], that gives
// [SendAll] to the hosts that hosts lists and [SendTraceContext] to every
// other host: the trace goes everywhere, so that any server that takes part
// in it stays connected, and the baggage stays inside the trusted hosts.
//
// Each entry of hosts is one of:
//
//   - a host name, matched exactly and case-insensitively, with or without
//     a trailing dot: "api.example.com";
//   - a suffix pattern, "*." followed by a domain, matching every name
//     below that domain but not the domain itself: "*.example.com" matches
//     "a.example.com" and "a.b.example.com", not "example.com" (list both
//     to trust both);
//   - an IP address, IPv6 with or without brackets, which matches the same
//     address written in any form: "10.1.2.3", "::1", "[2001:db8::1]";
//   - an IP prefix in CIDR notation: "10.0.0.0/8", "fd00::/8".
//
// An IPv4-mapped IPv6 address matches its IPv4 form, and an IPv6 zone is
// ignored. Entries are trimmed of white space; an entry of any other form,
// such as one with a port ("example.com:8443") or a bare "*", matches no
// host. The hosts slice is copied, so later changes to it have no effect.
//
// The returned function is safe for concurrent use and does not allocate.
func TrustedHosts(hosts ...string) func(host string) Policy {
	t := &trustedHosts{names: make(map[string]struct{}, len(hosts))}
	for _, h := range hosts {
		t.add(h)
	}
	return t.policy
}

type trustedHosts struct {
	names    map[string]struct{}
	suffixes []string // ".example.com" for "*.example.com"
	prefixes []netip.Prefix
}

func (t *trustedHosts) add(h string) {
	h = strings.ToLower(strings.TrimSpace(h))
	if p, err := netip.ParsePrefix(h); err == nil {
		t.prefixes = append(t.prefixes, p.Masked())
		return
	}
	if a, ok := parseIP(h); ok {
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
		return
	}
	h = strings.TrimSuffix(h, ".")
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		if validName(suffix) {
			t.suffixes = append(t.suffixes, "."+suffix)
		}
		return
	}
	if validName(h) {
		t.names[h] = struct{}{}
	}
}

func (t *trustedHosts) policy(host string) Policy {
	if t.trusted(normalizeHost(host)) {
		return SendAll
	}
	return SendTraceContext
}

func (t *trustedHosts) trusted(host string) bool {
	if host == "" {
		return false
	}
	if a, ok := parseIP(host); ok {
		for _, p := range t.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if _, ok := t.names[host]; ok {
		return true
	}
	for _, s := range t.suffixes {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// parseIP parses an IP address, IPv6 with or without brackets, without its
// zone and with an IPv4-mapped IPv6 address turned into IPv4. It does not
// allocate for a host name: netip.ParseAddr's error would.
func parseIP(s string) (netip.Addr, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if !strings.Contains(s, ":") && strings.Trim(s, "0123456789.") != "" {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// validName reports whether s can be a host name: non-empty, made of letters,
// digits, '-', '_' and '.', with no empty label.
func validName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := range len(s) {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// normalizeHost lower-cases host and removes one trailing dot. It allocates
// only when host has upper-case letters.
func normalizeHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// destinationHost returns the normalized host of u, the one given to the host
// policy: without port, IPv6 brackets and trailing dot, lower-cased.
func destinationHost(u *url.URL) string {
	return normalizeHost(u.Hostname())
}
