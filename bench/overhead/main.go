// Command overhead reads the output of bench/run.sh (go test -bench results,
// one line per row and pass) and prints, per setup, each variant's median,
// its overhead over the bare row and that overhead as a ratio of the floor,
// then the floor's terms, the growth of the overhead with parallelism, and
// a verdict on every target of docs/performance.md.
//
// The floor of a setup is what any hook-based tracer must spend to emit the
// telemetry of otelhooks' sub-spans (bench/floor_test.go):
//
//	floor = (noop-trace − bare) + (propagate − bare) + sdk-spans
//
// where sdk-spans sends no request: it is the SDK alone starting and ending
// the spans of one request. The events floor has sdk-events in its place.
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
	"flag"
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

// The rows the floors are made of (bench/variants_test.go), and the name of
// the floors as anchors of a target.
const (
	rowNoopTrace = "noop-trace"
	rowPropagate = "propagate"
	rowSDKSpans  = "sdk-spans"
	rowSDKEvents = "sdk-events"
	floorSpans   = "floor"
	floorEvents  = "events floor"
)

// replayRows send no request: their figures are the SDK's cost itself, not
// an overhead over bare.
var replayRows = []string{rowSDKSpans, rowSDKEvents}

// target is a goal of the suite: the overhead of variant at most ratio
// times the anchor's overhead, plus plus. The anchor is a variant, or one
// of the floors.
type target struct {
	name    string
	variant string
	anchor  string
	ratio   float64
	plus    float64 // in the unit's own terms: allocations for allocs/op
	setups  []string
	units   []string
}

// targets are those of issue 14 (docs/performance.md).
var targets = []target{
	{
		name:    "sub-spans: at most 1.05x the floor in allocations",
		variant: "otelhooks", anchor: floorSpans, ratio: 1.05,
		units: []string{unitAllocs},
	},
	{
		name:    "sub-spans: at most 1.10x the floor in bytes",
		variant: "otelhooks", anchor: floorSpans, ratio: 1.10,
		units: []string{unitBytes},
	},
	{
		name:    "sub-spans: at most half of otelhttp+otelhttptrace's overhead in time",
		variant: "otelhooks", anchor: "otelhttptrace", ratio: 0.5,
		setups: []string{"K", "H2"}, units: []string{unitTime},
	},
	{
		name:    "events: at most 0.4x otelhttp+otelhttptrace WithoutSubSpans",
		variant: "otelhooks-events", anchor: "otelhttptrace-events", ratio: 0.4,
		units: []string{unitBytes, unitAllocs},
	},
	{
		name:    "unsampled: at most the propagate-only row + 2 allocations",
		variant: "otelhooks-unsampled", anchor: rowPropagate, ratio: 1, plus: 2,
		units: []string{unitAllocs},
	},
	{
		name:    "unsampled, metrics on: at most the propagate-only row + 2 + 3 allocations",
		variant: "otelhooks-unsampled+metrics", anchor: rowPropagate, ratio: 1, plus: 5,
		units: []string{unitAllocs},
	},
}

// growthTarget is the target of the parallel rows: the overhead of variant
// grows with parallelism no faster than the anchor's.
var growthTarget = struct{ name, variant, anchor string }{
	name:    "under contention: ours grows no faster with parallelism than otelhttp+otelhttptrace",
	variant: "otelhooks", anchor: "otelhttptrace",
}

// row is the samples of one variant in one setup, in pass order.
type row struct {
	samples map[string][]float64
}

// results are the rows by setup and variant, with both in order of first
// appearance. The rows of BenchmarkParallelGET are under setups of their
// own, one per parallelism (parallelSetup), listed in parallel.
type results struct {
	setups   []string
	variants []string
	rows     map[string]map[string]*row
	parallel []parallelKey
	// units are the units printed: all, or without time (-notime).
	units []string
}

// parallelKey is a setup of BenchmarkParallelGET at one parallelism.
type parallelKey struct {
	setup string
	procs int
}

// parallelSetup is the setup key of a parallel row: "K ∥4".
func parallelSetup(setup string, procs int) string {
	return setup + " ∥" + strconv.Itoa(procs)
}

func main() {
	noTime := flag.Bool("notime", false, "leave time out: for results from a loaded machine, whose allocations and bytes are stable and whose times are not")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: overhead [-notime] results.txt...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	res := newResults()
	for _, name := range flag.Args() {
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
	if *noTime {
		res.units = []string{unitBytes, unitAllocs}
	}
	res.printOverheads(os.Stdout)
	res.printFloors(os.Stdout)
	res.printGrowth(os.Stdout)
	res.printTargets(os.Stdout)
}

func newResults() *results {
	return &results{rows: map[string]map[string]*row{}, units: units}
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
		k, ok := keys(fields[0])
		if !ok {
			continue
		}
		setup := k.setup
		if k.parallel {
			setup = parallelSetup(k.setup, k.procs)
			pk := parallelKey{k.setup, k.procs}
			if !slices.Contains(res.parallel, pk) {
				res.parallel = append(res.parallel, pk)
			}
		}
		rw := res.row(setup, k.variant, !k.parallel)
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

// benchKeys are the keys of a benchmark name.
type benchKeys struct {
	setup, variant string
	// parallel is whether the row is BenchmarkParallelGET's, and procs
	// its parallelism: the GOMAXPROCS suffix, 1 without one.
	parallel bool
	procs    int
}

// keys returns the keys of a benchmark name.
func keys(name string) (benchKeys, bool) {
	k := benchKeys{procs: 1}
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil {
			name, k.procs = name[:i], n // the GOMAXPROCS suffix
		}
	}
	for j, part := range strings.Split(name, "/") {
		if j == 0 {
			k.parallel = part == "BenchmarkParallelGET"
			continue
		}
		key, v, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		switch key {
		case "setup":
			k.setup = v
		case "variant":
			k.variant = v
		}
	}
	return k, k.setup != "" && k.variant != ""
}

// row returns the row of setup and variant, making it if there is none;
// listed says whether a new setup goes in res.setups, which the per-setup
// tables print.
func (res *results) row(setup, variant string, listed bool) *row {
	bySetup, ok := res.rows[setup]
	if !ok {
		bySetup = map[string]*row{}
		res.rows[setup] = bySetup
		if listed {
			res.setups = append(res.setups, setup)
		}
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

// overhead returns the median of variant minus the median of bare in
// setup; for a replay row, which sends no request, its median itself. NaN
// if a row is missing.
func (res *results) overhead(setup, variant, unit string) float64 {
	rw := res.get(setup, variant)
	if slices.Contains(replayRows, variant) {
		return rw.median(unit)
	}
	return rw.median(unit) - res.get(setup, baseline).median(unit)
}

// floor returns the floor of setup (floorSpans) or its events floor
// (floorEvents) in unit: NaN if one of its rows is missing.
func (res *results) floor(setup, which, unit string) float64 {
	sdk := rowSDKSpans
	if which == floorEvents {
		sdk = rowSDKEvents
	}
	return res.overhead(setup, rowNoopTrace, unit) + res.overhead(setup, rowPropagate, unit) +
		res.overhead(setup, sdk, unit)
}

// printOverheads prints one markdown table per setup: medians, the
// overhead of each variant over the bare row, and that overhead as a ratio
// of the setup's floor.
func (res *results) printOverheads(w io.Writer) {
	for _, setup := range res.setups {
		bare := res.get(setup, baseline)
		n := 0
		if bare != nil {
			n = len(bare.samples[unitAllocs])
		}
		fmt.Fprintf(w, "\nSetup %s (medians of %d passes; overhead = variant − bare; ÷ floor = overhead / floor)\n\n", setup, n)
		res.printHeader(w, "| variant |", "÷ floor")
		for _, variant := range res.variants {
			rw := res.get(setup, variant)
			if rw == nil {
				continue
			}
			fmt.Fprintf(w, "| %s |", variant)
			for _, unit := range res.units {
				format := formatter(unit)
				d := res.overhead(setup, variant, unit)
				delta := fmtDelta(d, format)
				if slices.Contains(replayRows, variant) {
					delta = "(no request)"
				}
				fmt.Fprintf(w, " %s | %s | %s |", format(rw.median(unit)), delta,
					fmtRatio(d/res.floor(setup, floorSpans, unit)))
			}
			fmt.Fprintln(w)
		}
	}
}

// printHeader prints the header of a table whose first columns are first
// and which has, per unit printed, the median, the overhead and a ratio
// named ratio.
func (res *results) printHeader(w io.Writer, first, ratio string) {
	names := map[string]string{unitTime: "time/op | Δ time", unitBytes: "B/op | Δ B", unitAllocs: "allocs/op | Δ allocs"}
	fmt.Fprint(w, first)
	for _, unit := range res.units {
		fmt.Fprintf(w, " %s | %s |", names[unit], ratio)
	}
	fmt.Fprint(w, "\n|---|")
	for range strings.Count(first, "|") - 2 {
		fmt.Fprint(w, "---:|")
	}
	for range res.units {
		fmt.Fprint(w, "---:|---:|---:|")
	}
	fmt.Fprintln(w)
}

// printFloors prints the terms of each setup's floors.
func (res *results) printFloors(w io.Writer) {
	fmt.Fprintln(w, "\nFloors: (noop-trace − bare) + (propagate − bare) + the SDK alone (sdk-spans; sdk-events for the events floor)")
	fmt.Fprintln(w)
	fmt.Fprint(w, "| setup | floor | noop-trace − bare | propagate − bare | SDK |")
	for _, unit := range res.units {
		fmt.Fprintf(w, " %s |", unit)
	}
	fmt.Fprint(w, "\n|---|---|---:|---:|---:|")
	for range res.units {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, setup := range res.setups {
		for _, which := range []string{floorSpans, floorEvents} {
			sdk := rowSDKSpans
			if which == floorEvents {
				sdk = rowSDKEvents
			}
			if res.get(setup, rowNoopTrace) == nil || res.get(setup, rowPropagate) == nil || res.get(setup, sdk) == nil {
				continue
			}
			terms := func(variant string) string {
				return fmt.Sprintf("%s, %s", fmtCount(res.overhead(setup, variant, unitAllocs)),
					fmtBytes(res.overhead(setup, variant, unitBytes)))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |", setup, which,
				terms(rowNoopTrace), terms(rowPropagate), terms(sdk))
			for _, unit := range res.units {
				fmt.Fprintf(w, " %s |", formatter(unit)(res.floor(setup, which, unit)))
			}
			fmt.Fprintln(w)
		}
	}
}

// printGrowth prints, for the parallel rows, each variant's overhead at
// each parallelism and its growth: the overhead over the overhead at the
// lowest parallelism of the run.
func (res *results) printGrowth(w io.Writer) {
	for _, setup := range res.parallelSetups() {
		procs := res.procsOf(setup)
		fmt.Fprintf(w, "\nParallel %s (b.RunParallel; overhead = variant − bare at the same -cpu; growth = overhead / overhead at -cpu %d)\n\n", setup, procs[0])
		res.printHeader(w, "| variant | -cpu |", "growth")
		for _, variant := range res.variants {
			for _, p := range procs {
				key := parallelSetup(setup, p)
				rw := res.get(key, variant)
				if rw == nil {
					continue
				}
				fmt.Fprintf(w, "| %s | %d |", variant, p)
				for _, unit := range res.units {
					format := formatter(unit)
					d := res.overhead(key, variant, unit)
					d1 := res.overhead(parallelSetup(setup, procs[0]), variant, unit)
					fmt.Fprintf(w, " %s | %s | %s |", format(rw.median(unit)), fmtDelta(d, format), fmtRatio(d/d1))
				}
				fmt.Fprintln(w)
			}
		}
	}
}

// parallelSetups returns the setups of the parallel rows, in order.
func (res *results) parallelSetups() []string {
	var setups []string
	for _, k := range res.parallel {
		if !slices.Contains(setups, k.setup) {
			setups = append(setups, k.setup)
		}
	}
	return setups
}

// procsOf returns the parallelisms of setup's parallel rows, ascending.
func (res *results) procsOf(setup string) []int {
	var procs []int
	for _, k := range res.parallel {
		if k.setup == setup {
			procs = append(procs, k.procs)
		}
	}
	slices.Sort(procs)
	return procs
}

// printTargets prints a verdict per target, setup and unit.
func (res *results) printTargets(w io.Writer) {
	fmt.Fprintln(w, "\nTargets (overhead = variant − bare; allocations and bytes by their medians, time by an exact sign test over the passes, paired)")
	for _, tg := range targets {
		fmt.Fprintf(w, "\n%s\n\n", tg.name)
		if !slices.ContainsFunc(tg.units, func(u string) bool { return slices.Contains(res.units, u) }) {
			fmt.Fprintln(w, "(left out: -notime)")
			continue
		}
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
				if !slices.Contains(res.units, unit) {
					continue
				}
				fmt.Fprintln(w, res.verdict(tg, setup, unit, note))
			}
		}
	}
	res.printGrowthTarget(w)
}

// anchorOverhead returns the overhead of a target's anchor: a floor, or a
// variant's overhead over bare.
func (res *results) anchorOverhead(setup, anchor, unit string) (float64, bool) {
	switch anchor {
	case floorSpans, floorEvents:
		f := res.floor(setup, anchor, unit)
		return f, !math.IsNaN(f)
	}
	if res.get(setup, anchor) == nil {
		return math.NaN(), false
	}
	return res.overhead(setup, anchor, unit), true
}

// verdict returns the table line of one target, setup and unit; note ends
// its verdict cell.
func (res *results) verdict(tg target, setup, unit, note string) string {
	format := formatter(unit)
	d := res.overhead(setup, tg.variant, unit)
	da, ok := res.anchorOverhead(setup, tg.anchor, unit)
	if !ok {
		return fmt.Sprintf("| %s | %s | %s | no %s rows | | | %s |", setup, unit, fmtDelta(d, format), tg.anchor, note)
	}
	allowed := tg.ratio*da + tg.plus
	want := fmt.Sprintf("≤ %.2fx", tg.ratio)
	if tg.plus != 0 {
		want = fmt.Sprintf("≤ %s %s", tg.anchor, fmtDelta(tg.plus, format))
	}
	var v string
	switch {
	case unit == unitTime && res.get(setup, tg.anchor) != nil:
		// Time is noisy: only the passes agreeing decides.
		ours, bare, anchor := res.get(setup, tg.variant), res.get(setup, baseline), res.get(setup, tg.anchor)
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
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s%s |", setup, unit,
		fmtDelta(d, format), fmtDelta(da, format), fmtRatio(d/da), want, v, note)
}

// growthTolerance is how much more than the anchor's the growth of ours
// may be in allocations and bytes, which parallel rows move by about 1
// allocation (2%) between passes even in their medians.
const growthTolerance = 0.03

// printGrowthTarget prints the verdict of growthTarget: per parallel setup,
// parallelism and unit, the growth of ours and of the anchor. Allocations
// and bytes are compared by their medians, within growthTolerance; time by
// a sign test over the passes of the per-pass growths, which pairs every
// row's samples by pass.
func (res *results) printGrowthTarget(w io.Writer) {
	setups := res.parallelSetups()
	if len(setups) == 0 {
		return
	}
	tg := growthTarget
	fmt.Fprintf(w, "\n%s\n\n", tg.name)
	fmt.Fprintln(w, "| setup | -cpu | unit | ours: growth | anchor: growth | verdict |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---|")
	for _, setup := range setups {
		procs := res.procsOf(setup)
		low := parallelSetup(setup, procs[0])
		for _, p := range procs[1:] {
			high := parallelSetup(setup, p)
			if res.get(high, tg.variant) == nil || res.get(high, tg.anchor) == nil ||
				res.get(low, tg.variant) == nil || res.get(low, tg.anchor) == nil {
				continue
			}
			for _, unit := range res.units {
				g := res.overhead(high, tg.variant, unit) / res.overhead(low, tg.variant, unit)
				ga := res.overhead(high, tg.anchor, unit) / res.overhead(low, tg.anchor, unit)
				var v string
				switch {
				case unit == unitTime:
					pos, n, pv := growthSignTest(res, low, high, tg.variant, tg.anchor)
					switch {
					case pv < 0.05 && 2*pos > n:
						v = fmt.Sprintf("NOT MET: grew more in %d of %d passes, p=%.3f", pos, n, pv)
					case pv < 0.05:
						v = fmt.Sprintf("met: grew less in %d of %d passes, p=%.3f", n-pos, n, pv)
					default:
						v = fmt.Sprintf("no significant difference: grew more in %d of %d passes, p=%.2f", pos, n, pv)
					}
				case g > ga+growthTolerance:
					v = "NOT MET"
				default:
					v = "met"
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", setup, p, unit, fmtRatio(g), fmtRatio(ga), v)
			}
		}
	}
}

// growthSignTest pairs the time samples of the rows of two parallelisms by
// pass and counts the passes in which variant's overhead grew more, from
// low to high, than anchor's; with the exact sign test's p-value.
func growthSignTest(res *results, low, high, variant, anchor string) (pos, n int, p float64) {
	growth := func(v string) []float64 {
		lo, hi := res.get(low, v).samples[unitTime], res.get(high, v).samples[unitTime]
		blo, bhi := res.get(low, baseline).samples[unitTime], res.get(high, baseline).samples[unitTime]
		m := min(len(lo), len(hi), len(blo), len(bhi))
		g := make([]float64, m)
		for i := range m {
			g[i] = (hi[i] - bhi[i]) / (lo[i] - blo[i])
		}
		return g
	}
	ours, theirs := growth(variant), growth(anchor)
	zero := make([]float64, len(ours))
	// ours − 0 − 1×(theirs − 0): positive where ours grew more.
	return signTest(ours, zero, theirs, 1)
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

func fmtRatio(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "?"
	case r == 0:
		return "0"
	}
	return fmt.Sprintf("%.2f", r)
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
