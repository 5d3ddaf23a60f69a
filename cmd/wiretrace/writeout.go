package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wvalue is a -w variable's value: its text, and what %{json} holds for
// it (a json.Number, a string or nil).
type wvalue struct {
	text string
	json any
}

func wtime(d time.Duration) wvalue {
	s := strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
	return wvalue{text: s, json: json.Number(s)}
}

func wint(n int64) wvalue {
	s := strconv.FormatInt(n, 10)
	return wvalue{text: s, json: json.Number(s)}
}

func wstr(s string) wvalue { return wvalue{text: s, json: s} }

// wnull is a variable with no value: empty text, null in JSON.
var wnull = wvalue{}

// writeOutVars are the variables of -w, as curl names them, computed from
// the transfer's spans and response. exit is the request's own exit
// status.
var writeOutVars = map[string]func(t *transfer, exit int) wvalue{
	"time_namelookup":    func(t *transfer, _ int) wvalue { return wtime(t.timing.namelookup()) },
	"time_connect":       func(t *transfer, _ int) wvalue { return wtime(t.timing.connected()) },
	"time_appconnect":    func(t *transfer, _ int) wvalue { return wtime(t.timing.appconnect()) },
	"time_pretransfer":   func(t *transfer, _ int) wvalue { return wtime(t.timing.pretransfer()) },
	"time_starttransfer": func(t *transfer, _ int) wvalue { return wtime(t.timing.starttransfer()) },
	"time_total":         func(t *transfer, _ int) wvalue { return wtime(t.timing.total()) },
	"time_redirect":      func(t *transfer, _ int) wvalue { return wtime(t.timing.redirect()) },
	"http_code":          httpCode,
	"response_code":      httpCode,
	"http_connect": func(t *transfer, _ int) wvalue {
		proxyConnectMu.Lock() // a dial may outlive its request
		defer proxyConnectMu.Unlock()
		return wint(int64(t.httpConnect))
	},
	"http_version": func(t *transfer, _ int) wvalue {
		if t.proto == "" {
			return wstr("0")
		}
		return wstr(t.proto)
	},
	"size_download": func(t *transfer, _ int) wvalue { return wint(t.sizeDownload()) },
	"size_upload":   func(t *transfer, _ int) wvalue { return wint(t.sizeUpload) },
	"speed_download": func(t *transfer, _ int) wvalue {
		return wint(perSecond(t.sizeDownload(), t.timing.total()))
	},
	"speed_upload": func(t *transfer, _ int) wvalue {
		return wint(perSecond(t.sizeUpload, t.timing.total()))
	},
	"remote_ip":   func(t *transfer, _ int) wvalue { return wstr(t.timing.lastConn().peerAddr) },
	"remote_port": func(t *transfer, _ int) wvalue { return wint(t.timing.lastConn().peerPort) },
	"local_ip":    func(t *transfer, _ int) wvalue { return wstr(t.timing.lastConn().localAddr) },
	"local_port":  func(t *transfer, _ int) wvalue { return wint(t.timing.lastConn().localPort) },
	"num_connects": func(t *transfer, _ int) wvalue {
		n := 0
		for _, h := range t.timing.hops {
			if h.newConn {
				n++
			}
		}
		return wint(int64(n))
	},
	"num_redirects": func(t *transfer, _ int) wvalue { return wint(int64(max(len(t.timing.hops)-1, 0))) },
	"num_headers": func(t *transfer, _ int) wvalue {
		n := 0
		for _, vs := range t.header {
			n += len(vs)
		}
		return wint(int64(n))
	},
	"url_effective": func(t *transfer, _ int) wvalue { return wstr(t.urlEffective) },
	"url":           func(t *transfer, _ int) wvalue { return wstr(redactURL(t.url)) },
	"redirect_url": func(t *transfer, _ int) wvalue {
		if t.redirectURL == "" {
			return wnull
		}
		return wstr(t.redirectURL)
	},
	"content_type": func(t *transfer, _ int) wvalue {
		if ct := t.header.Get("Content-Type"); ct != "" {
			return wstr(ct)
		}
		return wnull
	},
	"method": func(t *transfer, _ int) wvalue { return wstr(t.method) },
	"scheme": func(t *transfer, _ int) wvalue { return wstr(strings.ToUpper(t.url.Scheme)) },
	"errormsg": func(t *transfer, _ int) wvalue {
		if t.err == nil {
			return wnull
		}
		return wstr(t.errMsg)
	},
	"exitcode": func(_ *transfer, exit int) wvalue { return wint(int64(exit)) },
	"filename_effective": func(t *transfer, _ int) wvalue {
		if t.file == "" {
			return wnull
		}
		return wstr(t.file)
	},
}

func httpCode(t *transfer, _ int) wvalue {
	return wvalue{text: fmt.Sprintf("%03d", t.status), json: json.Number(strconv.Itoa(t.status))}
}

func perSecond(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}

// The times of -w, as curl measures them: from the start of each hop to
// the end of its phase, added up over the hops of a redirect chain
// ("When a redirect is followed, the time from each request is added
// together"), except time_total and time_redirect, which run from the
// start of the first hop.

// namelookup is until the name was resolved: the end of http.dns, or the
// start of http.getconn when there was no lookup (an IP address, a reused
// connection).
func (t *timing) namelookup() time.Duration {
	return t.sum(func(h *hopTiming) time.Time {
		if h.hasDNS {
			return h.dnsEnd
		}
		return h.getconnStart
	})
}

// connected is until TCP connected: the end of the winning http.connect,
// 0 for a reused connection.
func (t *timing) connected() time.Duration {
	return t.sum(func(h *hopTiming) time.Time {
		if h.hasConnect {
			return h.connectEnd
		}
		return time.Time{}
	})
}

// appconnect is until the TLS handshake ended; 0 without one.
func (t *timing) appconnect() time.Duration {
	return t.sum(func(h *hopTiming) time.Time {
		if h.hasTLS {
			return h.tlsEnd
		}
		return time.Time{}
	})
}

// pretransfer is until the request had its connection: the end of
// http.getconn.
func (t *timing) pretransfer() time.Duration {
	return t.sum(func(h *hopTiming) time.Time {
		if h.hasConn {
			return h.gotConn
		}
		return time.Time{}
	})
}

// starttransfer is until the first byte of the response.
func (t *timing) starttransfer() time.Duration {
	return t.sum(func(h *hopTiming) time.Time { return h.firstByte })
}

// total is from the start of the first hop to the end of the last one,
// its body read.
func (t *timing) total() time.Duration {
	if len(t.hops) == 0 {
		return 0
	}
	end := t.hops[0].end
	for _, h := range t.hops[1:] {
		if h.end.After(end) {
			end = h.end
		}
	}
	return nonNegative(end.Sub(t.hops[0].start))
}

// redirect is from the start of the first hop to the start of the last.
func (t *timing) redirect() time.Duration {
	if len(t.hops) < 2 {
		return 0
	}
	return nonNegative(t.hops[len(t.hops)-1].start.Sub(t.hops[0].start))
}

// sum adds up, over the hops, the time from each hop's start to the time
// at gives it, leaving out the hops for which it gives none.
func (t *timing) sum(at func(h *hopTiming) time.Time) time.Duration {
	var d time.Duration
	for i := range t.hops {
		h := &t.hops[i]
		if e := at(h); !e.IsZero() {
			d += nonNegative(e.Sub(h.start))
		}
	}
	return d
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

// lastConn is the last hop that got a connection, for the addresses; an
// empty hop if none did.
func (t *timing) lastConn() *hopTiming {
	for i := len(t.hops) - 1; i >= 0; i-- {
		if t.hops[i].peerAddr != "" {
			return &t.hops[i]
		}
	}
	return &hopTiming{}
}

// writeOut writes -w's format for t.
func (r *runner) writeOut(t *transfer) {
	exit := exitOK
	switch {
	case t.err != nil:
		exit = exitFailed
	case r.o.fail && t.status >= 400:
		exit = exitHTTPError
	}
	var unknown []string
	expandWriteOut(r.o.writeOut, t, exit, r.stdout, r.stderr, &unknown)
	for _, name := range unknown {
		r.warn.printf("unknown -w variable %q", name)
	}
}

// expandWriteOut writes format, its variables replaced, to stdout, or to
// stderr after %{stderr}, as curl does: %{name}, %header{name}, %{json},
// %{header_json}, %% for %, and \n, \r, \t. Unknown variables are added to
// unknown and write nothing.
func expandWriteOut(format string, t *transfer, exit int, stdout, stderr io.Writer, unknown *[]string) {
	var b strings.Builder
	w := stdout
	flush := func() {
		if b.Len() > 0 {
			_, _ = io.WriteString(w, b.String())
			b.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '%' && i+1 < len(format) && format[i+1] == '%':
			b.WriteByte('%')
			i++
		case c == '%' && strings.HasPrefix(format[i+1:], "{"):
			end := strings.IndexByte(format[i+2:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				i = len(format)
				continue
			}
			name := format[i+2 : i+2+end]
			i += 2 + end
			switch name {
			case "stdout":
				flush()
				w = stdout
			case "stderr":
				flush()
				w = stderr
			case "json":
				b.Write(writeOutJSON(t, exit))
			case "header_json":
				b.Write(headerJSON(t))
			default:
				f, ok := writeOutVars[name]
				if !ok {
					*unknown = append(*unknown, name)
					continue
				}
				b.WriteString(f(t, exit).text)
			}
		case c == '%' && strings.HasPrefix(format[i+1:], "header{"):
			end := strings.IndexByte(format[i+8:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				i = len(format)
				continue
			}
			name := format[i+8 : i+8+end]
			i += 8 + end
			if vs := redactHeader(t.header).Values(name); len(vs) > 0 {
				b.WriteString(strings.Join(vs, ", "))
			}
		case c == '\\' && i+1 < len(format):
			switch format[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteString(format[i : i+2])
			}
			i++
		default:
			b.WriteByte(c)
		}
	}
	flush()
}

// writeOutJSON is %{json}: every variable, by name in order.
func writeOutJSON(t *transfer, exit int) []byte {
	names := make([]string, 0, len(writeOutVars))
	for name := range writeOutVars {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		v, _ := json.Marshal(writeOutVars[name](t, exit).json) // strings, numbers, null
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// headerJSON is %{header_json}: the last response's headers, each an array
// of values, credentials redacted.
func headerJSON(t *transfer) []byte {
	h := redactHeader(t.header)
	m := make(map[string][]string, len(h))
	for k, vs := range h {
		m[strings.ToLower(k)] = vs
	}
	b, _ := json.Marshal(m)
	return b
}
