package propagation_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"

	"github.com/wiretrace/wiretrace/propagation"
)

// member returns a baggage member of a test table; it panics if the member
// is invalid.
func member(key, value string) baggage.Member {
	m, err := baggage.NewMemberRaw(key, value)
	if err != nil {
		panic(err)
	}
	return m
}

// keyed returns n members "k000=v…" to "k<n-1>=v…" with values of size
// bytes.
func keyed(n, size int) []baggage.Member {
	ms := make([]baggage.Member, n)
	for i := range ms {
		ms[i] = member(fmt.Sprintf("k%03d", i), strings.Repeat("v", size))
	}
	return ms
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("k%03d", i)
	}
	return ks
}

func TestInjectBaggageLimits(t *testing.T) {
	tests := []struct {
		name     string
		members  []baggage.Member
		wantKeys []string
	}{
		{
			name:     "within the limits",
			members:  keyed(3, 10),
			wantKeys: keys(3),
		},
		{
			name:     "64 members kept",
			members:  keyed(64, 1),
			wantKeys: keys(64),
		},
		{
			name:     "over 64 members: the first 64 by key",
			members:  keyed(200, 1),
			wantKeys: keys(64),
		},
		{
			// "kNNN=" and 4091 bytes make a 4096-byte member.
			name:     "4096 bytes per member kept",
			members:  keyed(1, 4091),
			wantKeys: keys(1),
		},
		{
			name:     "a member over 4096 bytes dropped",
			members:  append(keyed(1, 4092), member("small", "1")),
			wantKeys: []string{"small"},
		},
		{
			// Two members of 4096 bytes and a comma take 8193 bytes.
			name:     "over 8192 bytes: the members that fit, by key",
			members:  append(keyed(2, 4091), member("z", "1")),
			wantKeys: []string{"k000", "z"},
		},
		{
			// Two members of 4095 bytes and a comma take 8191 bytes; "z="
			// and its comma would take 3 more.
			name:     "one byte short of room",
			members:  append(keyed(2, 4090), member("z", "")),
			wantKeys: []string{"k000", "k001"},
		},
		{
			name:     "8192 bytes in all kept",
			members:  append(keyed(1, 4091), member("z", strings.Repeat("v", 4093))),
			wantKeys: []string{"k000", "z"},
		},
		{
			name:     "a key that cannot be encoded dropped",
			members:  []baggage.Member{member("ключ", "1"), member("key", "2")},
			wantKeys: []string{"key"},
		},
		{
			name:    "only unencodable members: no field",
			members: []baggage.Member{member("ключ", "1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// baggage.New would enforce limits of its own; SetMember
			// does not, and makes baggage of any size.
			var b baggage.Baggage
			for _, m := range tt.members {
				var err error
				b, err = b.SetMember(m)
				require.NoError(t, err)
			}
			ctx := baggage.ContextWithBaggage(context.Background(), b)

			// The same baggage gives the same field every time.
			var first []string
			for range 3 {
				req := newRequest(t, "http://127.0.0.1/")
				propagation.Inject(ctx, req, withBaggage)
				vs := req.Header.Values("Baggage")
				if tt.wantKeys == nil {
					require.Empty(t, vs, "never an empty baggage field")
					return
				}
				require.Len(t, vs, 1)
				assert.LessOrEqual(t, len(vs[0]), 8192)
				got, err := baggage.Parse(vs[0])
				require.NoError(t, err, "a valid field")
				var gotKeys []string
				for _, m := range got.Members() {
					gotKeys = append(gotKeys, m.Key())
					assert.LessOrEqual(t, len(m.String()), 4096)
					assert.Equal(t, b.Member(m.Key()).Value(), m.Value())
				}
				assert.ElementsMatch(t, tt.wantKeys, gotKeys)
				if first == nil {
					first = gotKeys
				}
				assert.ElementsMatch(t, first, gotKeys)
			}
		})
	}
}

func TestInjectBaggageEncoding(t *testing.T) {
	b, err := baggage.New(member("q", "a b,c;d=é%"))
	require.NoError(t, err)
	req := newRequest(t, "http://127.0.0.1/")
	propagation.Inject(baggage.ContextWithBaggage(context.Background(), b), req, withBaggage)

	got, err := baggage.Parse(req.Header.Get("Baggage"))
	require.NoError(t, err)
	assert.Equal(t, "a b,c;d=é%", got.Member("q").Value(), "the value survives the round trip")
}

// TestExtractBaggageKeepsValidPart sends baggage fields to a real server
// and checks what Extract keeps.
func TestExtractBaggageKeepsValidPart(t *testing.T) {
	srv := newObserver(t, jsonObserver)
	addr := srv.Listener.Addr().String()
	big := func(key string, n int) string { return key + "=" + strings.Repeat("v", n-len(key)-1) }
	many := make([]string, 200)
	for i := range many {
		many[i] = fmt.Sprintf("k%03d=%d", i, i)
	}

	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"one member", []string{"baggage: a=1"}, []string{"a=1"}},
		{"white space", []string{"baggage:  a = 1 ,\tb=2 ; p ; q = r "}, []string{"a=1", "b=2"}},
		{"one bad member", []string{"baggage: a=1,b c=2,d=4"}, []string{"a=1", "d=4"}},
		{"bad percent-encoding", []string{"baggage: a=%zz,b=%4,c=%41"}, []string{"c=A"}},
		{"bad property", []string{"baggage: a=1;=x,b=2;p=v"}, []string{"b=2"}},
		{"empty members", []string{"baggage: ,,a=1,,"}, []string{"a=1"}},
		{"all bad", []string{"baggage: ;;;,=,x"}, nil},
		{"non-ASCII", []string{"baggage: clé=1,a=é,b=2"}, []string{"b=2"}},
		{"several lines combined", []string{"baggage: a=1", "baggage: b=2,c=3"}, []string{"a=1", "b=2", "c=3"}},
		{"over 64 members: the first 64", []string{"baggage: " + strings.Join(many, ",")}, keyValues(many[:64])},
		{
			"over 8192 bytes: the members that fit, in order",
			[]string{"baggage: " + big("a", 4000) + "," + big("b", 4000) + "," + big("c", 4000) + ",d=1"},
			[]string{big("a", 4000), big("b", 4000), "d=1"},
		},
		{"a member over 4096 bytes dropped", []string{"baggage: " + big("a", 4097) + ",b=2"}, []string{"b=2"}},
		{"a 64 KiB field", []string{"baggage: " + strings.Repeat("x", 64<<10) + ",b=2"}, []string{"b=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := rawRequest(t, addr, tt.lines)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tt.want, got.Members)
		})
	}
}

// keyValues returns the "key=value" members sorted as members sorts them.
func keyValues(ms []string) []string {
	b, err := baggage.Parse(strings.Join(ms, ","))
	if err != nil {
		panic(err)
	}
	return members(b)
}
