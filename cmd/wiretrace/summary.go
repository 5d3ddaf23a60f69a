package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// summaryPhases are the phases -n summarizes, in order.
var summaryPhases = []string{"dns", "connect", "tls", "wait", "receive", "total"}

// summary is what the -n requests to one URL came to.
type summary struct {
	method string
	url    *url.URL

	requests, failed int
	newConns, reused int
	statuses         map[int]int
	errCount         map[string]int // by message
	errOrder         []string       // messages, first seen first
	phases           map[string][]time.Duration
}

func newSummary(method string, u *url.URL) *summary {
	return &summary{
		method:   method,
		url:      u,
		statuses: make(map[int]int),
		errCount: make(map[string]int),
		phases:   make(map[string][]time.Duration),
	}
}

// add counts t. A request is one request however many of its spans
// failed: a failed TLS handshake is one failure, with one message.
func (s *summary) add(t *transfer) {
	s.requests++
	if t.err != nil {
		s.failed++
		if s.errCount[t.errMsg] == 0 {
			s.errOrder = append(s.errOrder, t.errMsg)
		}
		s.errCount[t.errMsg]++
	} else {
		s.statuses[t.status]++
	}
	for _, h := range t.timing.hops {
		if !h.hasConn {
			continue
		}
		if h.newConn {
			s.newConns++
		} else {
			s.reused++
		}
	}
	var dns, connect, tls, wait, receive time.Duration
	var hasDNS, hasConnect, hasTLS, hasWait, hasReceive bool
	for _, h := range t.timing.hops {
		dns, hasDNS = dns+h.dns, hasDNS || h.hasDNS
		connect, hasConnect = connect+h.connect, hasConnect || h.hasConnect
		tls, hasTLS = tls+h.tls, hasTLS || h.hasTLS
		wait, hasWait = wait+h.wait, hasWait || h.hasWait
		receive, hasReceive = receive+h.receive, hasReceive || h.hasReceive
	}
	for _, p := range []struct {
		name string
		d    time.Duration
		ok   bool
	}{
		{"dns", dns, hasDNS}, {"connect", connect, hasConnect}, {"tls", tls, hasTLS},
		{"wait", wait, hasWait}, {"receive", receive, hasReceive},
		{"total", t.timing.total(), len(t.timing.hops) > 0},
	} {
		if p.ok {
			s.phases[p.name] = append(s.phases[p.name], p.d)
		}
	}
}

// stats are the order statistics of one phase.
type stats struct {
	n                          int
	min, med, p90, p99, maxDur time.Duration
}

func statsOf(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return stats{
		n: len(s), min: s[0], med: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), maxDur: s[len(s)-1],
	}
}

// percentile is the nearest-rank percentile p of sorted, which is not
// empty: the smallest value that p percent of the values do not exceed.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// printSummary ends the -n requests to one URL: as a table for people,
// or as one line of JSON.
func (r *runner) printSummary(s *summary) {
	if r.o.json {
		b, _ := json.Marshal(s.toJSON()) // strings and numbers: cannot fail
		_, _ = r.stdout.Write(append(b, '\n'))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "▶ summary of %d × %s %s\n", s.requests, s.method, displayURL(s.url))
	fmt.Fprintf(&b, "  %d responded", s.requests-s.failed)
	if len(s.statuses) > 0 {
		codes := make([]int, 0, len(s.statuses))
		for c := range s.statuses {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		parts := make([]string, 0, len(codes))
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%d ×%d", c, s.statuses[c]))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, ", %d failed; connections: %d new, %d reused\n", s.failed, s.newConns, s.reused)
	for _, msg := range s.errOrder {
		fmt.Fprintf(&b, "  ✗ %d× %s\n", s.errCount[msg], msg)
	}
	fmt.Fprintf(&b, "  %-8s %5s %9s %9s %9s %9s %9s\n", "phase", "n", "min", "median", "p90", "p99", "max")
	for _, name := range summaryPhases {
		st := statsOf(s.phases[name])
		if st.n == 0 {
			fmt.Fprintf(&b, "  %-8s %5d %9s %9s %9s %9s %9s\n", name, 0, "-", "-", "-", "-", "-")
			continue
		}
		fmt.Fprintf(&b, "  %-8s %5d %9s %9s %9s %9s %9s\n", name, st.n,
			fmtDuration(st.min), fmtDuration(st.med), fmtDuration(st.p90), fmtDuration(st.p99), fmtDuration(st.maxDur))
	}
	b.WriteByte('\n')
	_, _ = fmt.Fprint(r.captions, b.String())
}

// fmtDuration writes d with three significant digits: 812µs, 1.25ms, 2.50s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	}
	return sig3(d.Seconds()) + "s"
}

func sig3(f float64) string {
	switch {
	case f >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// fmtSize writes a byte count: 512 B, 5.31 kB, 1.09 MB.
func fmtSize(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1000*1000:
		return sig3(float64(n)/1000) + " kB"
	}
	return sig3(float64(n)/1e6) + " MB"
}

// jsonSummary is the -n summary under -json: one line,
// {"summary": {...}}. docs: doc.go, "JSON lines".
type jsonSummary struct {
	Summary jsonSummaryBody `json:"summary"`
}

type jsonSummaryBody struct {
	Method      string                `json:"method"`
	URL         string                `json:"url"`
	Requests    int                   `json:"requests"`
	Failed      int                   `json:"failed"`
	Statuses    map[string]int        `json:"status_codes"`
	Errors      []jsonSummaryError    `json:"errors"`
	Connections jsonSummaryConns      `json:"connections"`
	Phases      map[string]jsonPhases `json:"phases"`
}

type jsonSummaryError struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

type jsonSummaryConns struct {
	New    int `json:"new"`
	Reused int `json:"reused"`
}

// jsonPhases are a phase's statistics in milliseconds; null when the phase
// never happened (count 0).
type jsonPhases struct {
	Count    int      `json:"count"`
	MinMS    *float64 `json:"min_ms"`
	MedianMS *float64 `json:"median_ms"`
	P90MS    *float64 `json:"p90_ms"`
	P99MS    *float64 `json:"p99_ms"`
	MaxMS    *float64 `json:"max_ms"`
}

func ms(d time.Duration) *float64 {
	f := float64(d) / float64(time.Millisecond)
	return &f
}

func (s *summary) toJSON() jsonSummary {
	j := jsonSummaryBody{
		Method:      s.method,
		URL:         redactURL(s.url),
		Requests:    s.requests,
		Failed:      s.failed,
		Statuses:    make(map[string]int, len(s.statuses)),
		Errors:      make([]jsonSummaryError, 0, len(s.errOrder)),
		Connections: jsonSummaryConns{New: s.newConns, Reused: s.reused},
		Phases:      make(map[string]jsonPhases, len(summaryPhases)),
	}
	for c, n := range s.statuses {
		j.Statuses[strconv.Itoa(c)] = n
	}
	for _, msg := range s.errOrder {
		j.Errors = append(j.Errors, jsonSummaryError{Message: msg, Count: s.errCount[msg]})
	}
	for _, name := range summaryPhases {
		st := statsOf(s.phases[name])
		p := jsonPhases{Count: st.n}
		if st.n > 0 {
			p.MinMS, p.MedianMS, p.P90MS, p.P99MS, p.MaxMS = ms(st.min), ms(st.med), ms(st.p90), ms(st.p99), ms(st.maxDur)
		}
		j.Phases[name] = p
	}
	return jsonSummary{Summary: j}
}
