package propagation

import (
	"cmp"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/baggage"
)

// Baggage limits, enforced on what is sent and on what is extracted.
//
// The W3C Baggage specification, https://www.w3.org/TR/baggage/#limits, asks
// a platform to propagate at least 64 list-members and a baggage-string of at
// least 8192 bytes; its grammar allows at most 180 list-members. Its earlier
// drafts, still enforced by deployed SDKs (OpenTelemetry Go v1.38 among them,
// which rejects the whole header on a violation), set 180 list-members,
// 4096 bytes per list-member and 8192 bytes in all. These limits are the
// intersection of both, so that every receiver keeps all that is sent.
const (
	maxBaggageMembers      = 64
	maxBaggageMemberBytes  = 4096
	maxBaggageStringBytes  = 8192
	baggageMemberSeparator = ","
)

// limitBaggage returns the members of b that the filters keep, that can be
// encoded, and that fit the limits, and whether that differs from b. When the
// members do not all fit, they are taken in key order and each one that
// would exceed a limit is dropped, so the same baggage always gives the same
// result.
func limitBaggage(b baggage.Baggage, filters []func(baggage.Member) bool) (baggage.Baggage, bool) {
	type sized struct {
		m baggage.Member
		n int // encoded length
	}
	members := b.Members()
	kept := make([]sized, 0, len(members))
	changed := false
	total := -len(baggageMemberSeparator)
	for _, m := range members {
		if !keep(m, filters) {
			changed = true
			continue
		}
		// String is empty for a member that cannot be encoded, such as one
		// with a non-ASCII key.
		n := len(m.String())
		if n == 0 || n > maxBaggageMemberBytes {
			changed = true
			continue
		}
		kept = append(kept, sized{m, n})
		total += len(baggageMemberSeparator) + n
	}
	if !changed && len(kept) <= maxBaggageMembers && total <= maxBaggageStringBytes {
		return b, false
	}

	slices.SortFunc(kept, func(x, y sized) int { return cmp.Compare(x.m.Key(), y.m.Key()) })
	out := make([]baggage.Member, 0, min(len(kept), maxBaggageMembers))
	total = -len(baggageMemberSeparator)
	for _, s := range kept {
		if len(out) == maxBaggageMembers {
			break
		}
		if total+len(baggageMemberSeparator)+s.n > maxBaggageStringBytes {
			continue
		}
		total += len(baggageMemberSeparator) + s.n
		out = append(out, s.m)
	}
	// The members come from a valid Baggage and fit the limits, so New
	// cannot fail or drop any.
	nb, _ := baggage.New(out...)
	return nb, true
}

func keep(m baggage.Member, filters []func(baggage.Member) bool) bool {
	for _, f := range filters {
		if !f(m) {
			return false
		}
	}
	return true
}

// sanitizeBaggage returns the list-members of the baggage header values vs
// that are valid by the W3C grammar, in order, within the limits, joined by
// commas: each list-member that is invalid, longer than
// maxBaggageMemberBytes, or would take the result over maxBaggageStringBytes
// is dropped, and the rest after maxBaggageMembers. It returns vs[0] itself,
// without allocating, when that is the whole valid result.
func sanitizeBaggage(vs []string) string {
	if len(vs) == 1 && cleanBaggage(vs[0]) {
		return vs[0]
	}
	var b strings.Builder
	n := 0
	for _, v := range vs {
		for m := range strings.SplitSeq(v, baggageMemberSeparator) {
			m = trimOWS(m)
			if m == "" || len(m) > maxBaggageMemberBytes || !validMember(m) {
				continue
			}
			need := len(m)
			if n > 0 {
				need += len(baggageMemberSeparator)
			}
			if b.Len()+need > maxBaggageStringBytes {
				continue
			}
			if n > 0 {
				b.WriteString(baggageMemberSeparator)
			}
			b.WriteString(m)
			n++
			if n == maxBaggageMembers {
				return b.String()
			}
		}
	}
	return b.String()
}

// cleanBaggage reports whether v is a baggage-string that sanitizeBaggage
// would return unchanged: within the limits, with valid list-members and no
// white space or empty member around the commas.
func cleanBaggage(v string) bool {
	if v == "" || len(v) > maxBaggageStringBytes {
		return false
	}
	n := 0
	for m := range strings.SplitSeq(v, baggageMemberSeparator) {
		n++
		if n > maxBaggageMembers {
			return false
		}
		if m == "" || trimOWS(m) != m || len(m) > maxBaggageMemberBytes || !validMember(m) {
			return false
		}
	}
	return true
}

// validMember reports whether s is a list-member by the grammar of
// https://www.w3.org/TR/baggage/#definition, with valid percent-encoding:
//
//	list-member = key OWS "=" OWS value *( OWS ";" OWS property )
//	property    = key OWS "=" OWS value / key OWS
//	key         = token
//	value       = *baggage-octet
func validMember(s string) bool {
	i := scanToken(s, 0)
	if i == 0 {
		return false
	}
	i = skipOWS(s, i)
	if i == len(s) || s[i] != '=' {
		return false
	}
	i, ok := scanValue(s, skipOWS(s, i+1))
	if !ok {
		return false
	}
	i = skipOWS(s, i)
	for i < len(s) {
		if s[i] != ';' {
			return false
		}
		i = skipOWS(s, i+1)
		j := scanToken(s, i)
		if j == i {
			return false
		}
		i = skipOWS(s, j)
		if i < len(s) && s[i] == '=' {
			if i, ok = scanValue(s, skipOWS(s, i+1)); !ok {
				return false
			}
			i = skipOWS(s, i)
		}
	}
	return true
}

// scanToken returns the end of the token (RFC 9110 section 5.6.2) starting
// at s[i], or i if there is none.
func scanToken(s string, i int) int {
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	return i
}

// scanValue returns the end of the baggage value starting at s[i], and false
// if it has a malformed percent-encoding.
func scanValue(s string, i int) (int, bool) {
	for i < len(s) && isBaggageOctet(s[i]) {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return i, false
			}
			i += 2
		}
		i++
	}
	return i, true
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isBaggageOctet reports whether c is a baggage-octet: printable US-ASCII
// but white space, '"', ',', ';' and '\'.
func isBaggageOctet(c byte) bool {
	return 0x21 <= c && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
