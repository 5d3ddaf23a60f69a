package otelhooks

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// DefaultRedactedQueryKeys returns the query (and fragment) parameters whose
// values are recorded as "REDACTED" unless [WithoutRedactedQueryKeys] turns
// them off: the keys the HTTP semantic conventions list for url.full
// (AWSAccessKeyId, Signature, sig, X-Goog-Signature, X-Amz-Signature,
// X-Amz-Credential, X-Amz-Security-Token), X-Goog-Credential, and the
// credentials of OAuth and of API keys (access_token, refresh_token,
// id_token, token, code, client_secret, api_key, apikey, password).
//
// Keys are matched without regard to case, after percent-decoding. The
// returned slice is a new copy on each call.
func DefaultRedactedQueryKeys() []string {
	return slices.Clone(defaultRedactedQueryKeys)
}

var defaultRedactedQueryKeys = []string{
	// The HTTP semantic conventions' list for url.full.
	"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature",
	"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
	// Beyond it: the rest of a Google signed URL, OAuth 2.0 (the implicit
	// flow puts access_token in the fragment), and API keys.
	"X-Goog-Credential",
	"access_token", "refresh_token", "id_token", "token", "code", "client_secret",
	"api_key", "apikey", "password",
}

// alwaysRedacted are the canonical header keys whose values never reach a
// span.
var alwaysRedacted = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// urlValuedHeaders are the canonical keys of the headers whose values are
// URLs; recorded, they are scrubbed as url.full is. Link's URLs are those
// between angle brackets.
var urlValuedHeaders = map[string]bool{
	"Location": true, "Content-Location": true, "Referer": true, "Origin": true, "Link": true,
}

// canonicalHeaderKey is the one normalization of a header key given to an
// option: trimmed of white space, then canonicalized as net/http does.
func canonicalHeaderKey(k string) string {
	return textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k))
}

// queryKeyEdit is one WithRedactedQueryKeys (add) or WithoutRedactedQueryKeys
// (remove), kept in the order the options came.
type queryKeyEdit struct {
	keys []string
	add  bool
}

// scrubber removes secrets from URLs and from texts, as the redaction options
// say. It is built once by newConfig and read-only afterwards.
type scrubber struct {
	// keys are the redacted query keys, lower-cased.
	keys []string
	// all redacts every query and fragment value (WithRedactAllQueryValues).
	all bool
	// custom replaces the URL scrubbing (WithURLScrubber); nil: the default.
	custom func(*url.URL) string
	// headers are the canonical keys of the redacted headers.
	headers map[string]bool
}

func newScrubber(edits []queryKeyEdit, all bool, custom func(*url.URL) string, redactedHeaders []string) *scrubber {
	s := &scrubber{all: all, custom: custom, headers: make(map[string]bool, len(alwaysRedacted)+len(redactedHeaders))}
	for _, k := range defaultRedactedQueryKeys {
		s.keys = append(s.keys, strings.ToLower(k))
	}
	for _, e := range edits {
		for _, k := range e.keys {
			k = strings.ToLower(strings.TrimSpace(k))
			if k == "" {
				continue
			}
			i := slices.Index(s.keys, k)
			switch {
			case e.add && i < 0:
				s.keys = append(s.keys, k)
			case !e.add && i >= 0:
				s.keys = slices.Delete(s.keys, i, i+1)
			}
		}
	}
	for _, k := range alwaysRedacted {
		s.headers[k] = true
	}
	for _, k := range redactedHeaders {
		if k = canonicalHeaderKey(k); k != "" {
			s.headers[k] = true
		}
	}
	return s
}

// sensitiveKey reports whether the raw (still escaped) query key is one
// whose value is redacted. A key that cannot be unescaped is treated as
// sensitive: what it hides cannot be told. It allocates only for a key with
// an escape.
func (s *scrubber) sensitiveKey(raw string) bool {
	k := raw
	if strings.ContainsAny(raw, "%+") {
		u, err := url.QueryUnescape(raw)
		if err != nil {
			return true
		}
		k = u
	}
	for _, sk := range s.keys {
		if len(sk) == len(k) && strings.EqualFold(sk, k) {
			return true
		}
	}
	return false
}

// nextParam returns the first parameter of the raw query (or fragment) q,
// split at '&' or ';', and the rest after the separator.
func nextParam(q string) (param string, sep byte, rest string) {
	i := strings.IndexAny(q, "&;")
	if i < 0 {
		return q, 0, ""
	}
	return q[:i], q[i], q[i+1:]
}

// sensitiveQuery reports whether the raw query q has a value to redact. It
// does not allocate unless a key has an escape.
func (s *scrubber) sensitiveQuery(q string) bool {
	for q != "" {
		var p string
		p, _, q = nextParam(q)
		key, value, _ := strings.Cut(p, "=")
		if value != "" && (s.all || s.sensitiveKey(key)) {
			return true
		}
	}
	return false
}

// redactQuery replaces the values to redact in the raw query q, keeping the
// order, the separators and the encoding of everything else.
func (s *scrubber) redactQuery(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for q != "" {
		var (
			p   string
			sep byte
		)
		p, sep, q = nextParam(q)
		key, value, _ := strings.Cut(p, "=")
		if value != "" && (s.all || s.sensitiveKey(key)) {
			b.WriteString(key)
			b.WriteString("=" + redactedValue)
		} else {
			b.WriteString(p)
		}
		if sep != 0 {
			b.WriteByte(sep)
		}
	}
	return b.String()
}

// sensitiveFragment reports whether u's fragment has parameters to redact,
// as in the OAuth implicit flow's "#access_token=…".
func (s *scrubber) sensitiveFragment(u *url.URL) bool {
	return strings.Contains(u.Fragment, "=") && s.sensitiveQuery(u.EscapedFragment())
}

// url returns u as url.full records it: through the WithURLScrubber function
// if one is set, else without userinfo and with the values of the redacted
// query and fragment parameters replaced by "REDACTED". u is not modified.
//
// A URL with nothing to scrub costs what u.String() costs, and nothing more.
func (s *scrubber) url(u *url.URL) string {
	if s.custom != nil {
		c := *u
		return s.custom(&c)
	}
	query := s.sensitiveQuery(u.RawQuery)
	fragment := u.Fragment != "" && s.sensitiveFragment(u)
	if u.User == nil && !query && !fragment {
		return u.String()
	}
	c := *u
	c.User = nil
	if query {
		c.RawQuery = s.redactQuery(u.RawQuery)
	}
	if !fragment {
		return c.String()
	}
	c.Fragment, c.RawFragment = "", ""
	return c.String() + "#" + s.redactQuery(u.EscapedFragment())
}

// urlString scrubs a URL given as text, as a Location header gives it. Text
// that does not parse as a URL is redacted whole: it cannot be told what it
// hides.
func (s *scrubber) urlString(v string) string {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil {
		return redactedValue
	}
	return s.url(u)
}

// headerValue scrubs the value of the URL-valued header key: the whole value,
// or for Link each URL between angle brackets ("<…>; rel=preload").
func (s *scrubber) headerValue(key, v string) string {
	if key != "Link" {
		return s.urlString(v)
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			b.WriteString(v[:i+1] + redactedValue)
			return b.String()
		}
		b.WriteString(v[:i+1] + s.urlString(v[i+1:i+j]) + ">")
		v = v[i+j+1:]
	}
}

// wireQuoting are the beginnings of net/http's, net/textproto's and
// x/net/http2's error texts that quote what a peer sent: a header line, a
// status line, a header value. What follows them is never recorded.
var wireQuoting = []string{
	"malformed MIME header",   // line, initial line, missing colon
	"malformed HTTP response", // the status line
	"malformed HTTP status code",
	"malformed HTTP version",
	"invalid Trailer key",
	"bad trailer key",
	"bad Content-Length",
	"invalid empty Content-Length",
	"unsupported transfer encoding",
	"too many transfer encodings",
	"multiple Content-Length headers",
	"bogus greeting",
	"short response",
	"invalid response code",
	"unexpected multi-line response",
	"debug=", // an HTTP/2 GOAWAY's debug data
}

// text returns the error text msg as it may be recorded: as a status
// description or a wiretrace.error.message attribute. req, if not nil, is the
// request it came from.
//
//   - A quoted string (Go's %q, as *url.Error and net/http quote) that is a
//     URL is replaced by the URL, scrubbed; one that a peer sent (after the
//     wireQuoting beginnings) or that is not a plain token, such as a header
//     line, by "REDACTED". A token, such as a header key, is kept.
//   - An unquoted URL ("scheme://…") is replaced by the URL, scrubbed, and an
//     unquoted "user:password@" by "REDACTED@".
//   - The secrets of req, wherever they appear: its userinfo, the values of
//     its redacted query and fragment parameters, and the values of its
//     redacted headers (Authorization's credentials, each cookie's value), in
//     raw and decoded form, are replaced by "REDACTED". Values shorter than 4
//     bytes are left to the rules above, so that a short value does not
//     garble the text.
func (s *scrubber) text(msg string, req *http.Request) string {
	if strings.ContainsAny(msg, `"@`) || strings.Contains(msg, "://") {
		msg = s.scanText(msg)
	}
	if req != nil {
		for _, secret := range s.secrets(req) {
			msg = strings.ReplaceAll(msg, secret, redactedValue)
		}
	}
	return msg
}

// errText is text(err.Error(), req), "" for a nil err.
func (s *scrubber) errText(err error, req *http.Request) string {
	if err == nil {
		return ""
	}
	return s.text(err.Error(), req)
}

// scanText applies the quoted-string, URL and userinfo rules of text.
func (s *scrubber) scanText(msg string) string {
	var b strings.Builder
	b.Grow(len(msg))
	plainFrom := 0 // start of the unquoted text not yet written
	for i := 0; i < len(msg); i++ {
		if msg[i] != '"' {
			continue
		}
		end := quotedEnd(msg, i)
		before := msg[plainFrom:i]
		b.WriteString(s.scanPlain(before))
		quoted := msg[i:end]
		switch {
		case afterWireQuoting(msg[:i]) || end == len(msg) && !strings.HasSuffix(quoted, `"`) || len(quoted) < 2:
			b.WriteString(`"` + redactedValue + `"`)
		default:
			b.WriteString(s.quoted(quoted))
		}
		plainFrom = end
		i = end - 1
	}
	b.WriteString(s.scanPlain(msg[plainFrom:]))
	return b.String()
}

// quotedEnd returns the index just past the Go-quoted string that starts at
// msg[i] == '"', or len(msg) if it does not end.
func quotedEnd(msg string, i int) int {
	for j := i + 1; j < len(msg); j++ {
		switch msg[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(msg)
}

// afterWireQuoting reports whether prefix, the text before a quoted string,
// ends with one of the wireQuoting beginnings and at most a few words after
// it ("malformed MIME header: missing colon: ").
func afterWireQuoting(prefix string) bool {
	for _, w := range wireQuoting {
		i := strings.LastIndex(prefix, w)
		if i < 0 {
			continue
		}
		if rest := prefix[i+len(w):]; len(rest) <= 24 && !strings.Contains(rest, `"`) {
			return true
		}
	}
	return false
}

// quoted returns the Go-quoted string q, scrubbed.
func (s *scrubber) quoted(q string) string {
	v, err := strconv.Unquote(q)
	if err != nil {
		return `"` + redactedValue + `"`
	}
	switch {
	case v == "" || isToken(v):
		return q
	case strings.Contains(v, "://") || strings.HasPrefix(v, "/"):
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" && !strings.HasPrefix(v, "/") {
			return `"` + redactedValue + `"`
		}
		return strconv.Quote(s.url(u))
	}
	return `"` + redactedValue + `"`
}

// isToken reports whether v is an RFC 9110 token (a header key, a method, a
// scheme), at most 64 bytes long.
func isToken(v string) bool {
	if len(v) > 64 {
		return false
	}
	for i := range len(v) {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// scanPlain scrubs unquoted text: each "scheme://…" up to white space or a
// delimiter is a URL, scrubbed; a word "user:password@" loses its userinfo.
// Wire-quoting beginnings outside quotes redact the rest of the text.
func (s *scrubber) scanPlain(t string) string {
	if !strings.Contains(t, "://") && !strings.Contains(t, "@") {
		return t
	}
	var b strings.Builder
	b.Grow(len(t))
	for t != "" {
		i := strings.IndexFunc(t, isWordByte)
		if i < 0 {
			b.WriteString(t)
			break
		}
		b.WriteString(t[:i])
		t = t[i:]
		j := strings.IndexFunc(t, func(r rune) bool { return !isWordByte(r) })
		if j < 0 {
			j = len(t)
		}
		word := t[:j]
		t = t[j:]
		b.WriteString(s.word(word))
	}
	return b.String()
}

func isWordByte(r rune) bool {
	return r > ' ' && r != '"' && r != '\'' && r != '<' && r != '>' && r != '(' && r != ')' && r != '[' && r != ']' && r != '`'
}

// word scrubs one white-space-delimited word of unquoted text.
func (s *scrubber) word(w string) string {
	if k := strings.Index(w, "://"); k > 0 {
		// Trailing punctuation is the sentence's, not the URL's.
		trail := len(w) - len(strings.TrimRight(w, ".,:;!?"))
		u, err := url.Parse(w[:len(w)-trail])
		if err != nil {
			return redactedValue
		}
		return s.url(u) + w[len(w)-trail:]
	}
	if at := strings.LastIndex(w, "@"); at > 0 && strings.Contains(w[:at], ":") {
		return redactedValue + w[at:]
	}
	return w
}

// secrets returns the secrets of req that must not appear in a text, longest
// first, so that one that contains another is replaced whole.
func (s *scrubber) secrets(req *http.Request) []string {
	var out []string
	add := func(v string) {
		if len(v) >= 4 && v != redactedValue && !slices.Contains(out, v) {
			out = append(out, v)
		}
		if d, err := url.QueryUnescape(v); err == nil && d != v && len(d) >= 4 && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if u := req.URL; u != nil {
		if u.User != nil {
			add(u.User.String())
			add(u.User.Username())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		s.querySecrets(u.RawQuery, add)
		if strings.Contains(u.Fragment, "=") {
			s.querySecrets(u.EscapedFragment(), add)
		}
	}
	for k, vs := range req.Header {
		if !s.headers[textproto.CanonicalMIMEHeaderKey(k)] {
			continue
		}
		for _, v := range vs {
			headerSecrets(v, add)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// querySecrets passes the values to redact of the raw query q to add.
func (s *scrubber) querySecrets(q string, add func(string)) {
	for q != "" {
		var p string
		p, _, q = nextParam(q)
		key, value, _ := strings.Cut(p, "=")
		if value != "" && (s.all || s.sensitiveKey(key)) {
			add(value)
		}
	}
}

// headerSecrets passes the secret parts of a redacted header's value to add:
// the value, its credentials after an auth scheme ("Bearer x"), and each
// cookie's value.
func headerSecrets(v string, add func(string)) {
	v = strings.TrimSpace(v)
	add(v)
	if scheme, cred, ok := strings.Cut(v, " "); ok && isToken(scheme) && !strings.Contains(scheme, "=") {
		add(strings.TrimSpace(cred))
	}
	for c := range strings.SplitSeq(v, ";") {
		if _, val, ok := strings.Cut(c, "="); ok {
			add(strings.TrimSpace(val))
		}
	}
}
