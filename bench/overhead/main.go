// Command overhead reads the output of bench/run.sh (go test -bench results,
// one line per row and pass) and prints, per setup, each variant's median
// and its overhead over the bare row, then a verdict on every target of
// docs/performance.md.
//
// Usage:
//
//	go run ./overhead results.txt...
//
// Samples of a row are paired with the bare row's by pass, in file order:
// run.sh runs one pass over all rows per invocation, so the i-th sample of
// each row comes from the same pass. The time verdicts use that pairing in
// an exact sign test; allocations and bytes, which do not depend on the
// machine's load, are compared by their medians.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The units of a benchmark line this command reads.
const (
	unitTime   = "ns/op"
	unitBytes  = "B/op"
	unitAllocs = "allocs/op"
	baseline   = "bare"
)

var units = []string{unitTime, unitBytes, unitAllocs}

// target is a goal of the suite: the overhead of variant at most ratio
// times the anchor's overhead, or at most limit allocations (anchor empty).
type target struct {
	name    string
	variant string
	anchor  string
	ratio   float64
	limit   float64 // allocs/op over bare, when anchor is empty
	setups  []string
	units   []string
}

// targets are those of the issue that made the suite (docs/performance.md).
var targets = []target{
	{
		name:    "sub-spans: at most half of otelhttp+otelhttptrace's overhead",
		variant: "otelhooks", anchor: "otelhttptrace", ratio: 0.5,
		setups: []string{"K", "N", "H2"}, units: units,
	},
	{
		name:    "events: at most 1.5x plain otelhttp's overhead",
		variant: "otelhooks-events", anchor: "otelhttp", ratio: 1.5,
		units: []string{unitBytes, unitAllocs},
	},
	{
		name:    "unsampled: at most 5 allocs/op over bare",
		variant: "otelhooks-unsampled", limit: 5,
		units: []string{unitAllocs},
	},
}

// row is the samples of one variant in one setup, in pass order.
type row struct {
	samples map[string][]float64
}

// results are the rows by setup and variant, with both in order of first
// appearance.
type results struct {
	setups   []string
	variants []string
	rows     map[string]map[string]*row
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: overhead results.txt...")
		os.Exit(2)
	}
	res := &results{rows: map[string]map[string]*row{}}
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "overhead:", err)
			os.Exit(1)
		}
		err = res.read(f)
		_ = f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "overhead: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	if len(res.setups) == 0 {
		fmt.Fprintln(os.Stderr, "overhead: no benchmark results with setup= and variant= keys")
		os.Exit(1)
	}
	res.printOverheads(os.Stdout)
	res.printTargets(os.Stdout)
}

// read adds the benchmark lines of r: "BenchmarkGET/setup=K/variant=bare-2
// 1000 33329 ns/op 5595 B/op 63 allocs/op".
func (res *results) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		setup, variant, ok := keys(fields[0])
		if !ok {
			continue
		}
		rw := res.row(setup, variant)
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return fmt.Errorf("%q: %w", sc.Text(), err)
			}
			rw.samples[fields[i+1]] = append(rw.samples[fields[i+1]], v)
		}
	}
	return sc.Err()
}

// keys returns the setup and variant of a benchmark name.
func keys(name string) (setup, variant string, ok bool) {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i] // the GOMAXPROCS suffix
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		k, v, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		switch k {
		case "setup":
			setup = v
		case "variant":
			variant = v
		}
	}
	return setup, variant, setup != "" && variant != ""
}

func (res *results) row(setup, variant string) *row {
	bySetup, ok := res.rows[setup]
	if !ok {
		bySetup = map[string]*row{}
		res.rows[setup] = bySetup
		res.setups = append(res.setups, setup)
	}
	if !slices.Contains(res.variants, variant) {
		res.variants = append(res.variants, variant)
	}
	rw, ok := bySetup[variant]
	if !ok {
		rw = &row{samples: map[string][]float64{}}
		bySetup[variant] = rw
	}
	return rw
}

func (res *results) get(setup, variant string) *row {
	return res.rows[setup][variant]
}

func (rw *row) median(unit string) float64 {
	if rw == nil {
		return math.NaN()
	}
	return median(rw.samples[unit])
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printOverheads prints one markdown table per setup: medians and the
// overhead of each variant over the bare row.
func (res *results) printOverheads(w io.Writer) {
	for _, setup := range res.setups {
		bare := res.get(setup, baseline)
		n := 0
		if bare != nil {
			n = len(bare.samples[unitTime])
		}
		fmt.Fprintf(w, "\nSetup %s (medians of %d passes; overhead = variant − bare)\n\n", setup, n)
		fmt.Fprintln(w, "| variant | time/op | Δ time | B/op | Δ B | allocs/op | Δ allocs |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		for _, variant := range res.variants {
			rw := res.get(setup, variant)
			if rw == nil {
				continue
			}
			t, b, a := rw.median(unitTime), rw.median(unitBytes), rw.median(unitAllocs)
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", variant,
				fmtTime(t), fmtDelta(t-bare.median(unitTime), fmtTime),
				fmtBytes(b), fmtDelta(b-bare.median(unitBytes), fmtBytes),
				fmtCount(a), fmtDelta(a-bare.median(unitAllocs), fmtCount))
		}
	}
}

// printTargets prints a verdict per target, setup and unit.
func (res *results) printTargets(w io.Writer) {
	fmt.Fprintln(w, "\nTargets (overhead = variant − bare; allocations and bytes by their medians, time by an exact sign test over the passes, paired)")
	for _, tg := range targets {
		fmt.Fprintf(w, "\n%s\n\n", tg.name)
		fmt.Fprintln(w, "| setup | unit | ours | anchor | ratio | target | verdict |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---|")
		for _, setup := range res.setups {
			bare, ours := res.get(setup, baseline), res.get(setup, tg.variant)
			if bare == nil || ours == nil {
				continue
			}
			note := ""
			if len(tg.setups) > 0 && !slices.Contains(tg.setups, setup) {
				note = " (setup not in the target: for information)"
			}
			for _, unit := range tg.units {
				fmt.Fprintln(w, res.verdict(tg, setup, unit, bare, ours, note))
			}
		}
	}
}

// verdict returns the table line of one target, setup and unit; note ends
// its verdict cell.
func (res *results) verdict(tg target, setup, unit string, bare, ours *row, note string) string {
	format := formatter(unit)
	d := ours.median(unit) - bare.median(unit)
	if tg.anchor == "" {
		v := "met"
		if d > tg.limit {
			v = fmt.Sprintf("NOT MET: %s over", fmtCount(d-tg.limit))
		}
		return fmt.Sprintf("| %s | %s | %s | | | ≤ %s | %s%s |", setup, unit, fmtDelta(d, format), fmtCount(tg.limit), v, note)
	}
	anchor := res.get(setup, tg.anchor)
	if anchor == nil {
		return fmt.Sprintf("| %s | %s | %s | no %s row | | | %s |", setup, unit, fmtDelta(d, format), tg.anchor, note)
	}
	da := anchor.median(unit) - bare.median(unit)
	ratio := d / da
	allowed := tg.ratio * da
	var v string
	switch {
	case unit == unitTime:
		// Time is noisy: only the passes agreeing decides.
		pos, n, p := signTest(ours.samples[unit], bare.samples[unit], anchor.samples[unit], tg.ratio)
		switch {
		case p < 0.05 && 2*pos > n:
			v = fmt.Sprintf("NOT MET: over in %d of %d passes, p=%.3f", pos, n, p)
		case p < 0.05:
			v = fmt.Sprintf("met: under in %d of %d passes, p=%.3f", n-pos, n, p)
		default:
			v = fmt.Sprintf("no significant difference: over in %d of %d passes, p=%.2f", pos, n, p)
		}
		// And, for the record, whether ours is faster than the anchor at all.
		slower, n1, p1 := signTest(ours.samples[unit], bare.samples[unit], anchor.samples[unit], 1)
		v += fmt.Sprintf("; faster than %s in %d of %d passes, p=%.3f", tg.anchor, n1-slower, n1, p1)
	case d > allowed:
		v = fmt.Sprintf("NOT MET: %s over", format(d-allowed))
	default:
		v = "met"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %.2f | ≤ %.1fx | %s%s |", setup, unit,
		fmtDelta(d, format), fmtDelta(da, format), ratio, tg.ratio, v, note)
}

// signTest pairs the samples by pass, takes the excess of each pass, ours −
// bare − ratio×(anchor − bare), and returns how many passes have a positive
// excess, how many passes were paired (ties dropped), and the exact
// two-sided sign test's p-value.
func signTest(ours, bare, anchor []float64, ratio float64) (pos, n int, p float64) {
	m := min(len(ours), len(bare), len(anchor))
	for i := range m {
		excess := ours[i] - bare[i] - ratio*(anchor[i]-bare[i])
		switch {
		case excess > 0:
			pos++
			n++
		case excess < 0:
			n++
		}
	}
	k := min(pos, n-pos)
	// P(X ≤ k) for X ~ Binomial(n, 1/2), doubled.
	c := 1.0
	for i := 0; i <= k; i++ {
		if i > 0 {
			c = c * float64(n-i+1) / float64(i)
		}
		p += c
	}
	p = min(1, 2*p/math.Pow(2, float64(n)))
	return pos, n, p
}

func formatter(unit string) func(float64) string {
	switch unit {
	case unitTime:
		return fmtTime
	case unitBytes:
		return fmtBytes
	}
	return fmtCount
}

func fmtTime(ns float64) string {
	switch a := math.Abs(ns); {
	case a >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func fmtBytes(b float64) string {
	if math.Abs(b) >= 1000 {
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.0f B", b)
}

func fmtCount(n float64) string {
	if n == math.Trunc(n) {
		return strconv.FormatFloat(n, 'f', 0, 64)
	}
	return strconv.FormatFloat(n, 'f', 1, 64)
}

func fmtDelta(d float64, format func(float64) string) string {
	switch {
	case math.IsNaN(d):
		return "?"
	case d == 0:
		return "0"
	case d > 0:
		return "+" + format(d)
	}
	return "−" + format(-d)
}
