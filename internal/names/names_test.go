package names_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/names"
)

const (
	namesPath   = "github.com/wiretrace/wiretrace/internal/names"
	semconvPath = "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// source is what the non-test files of one package refer to.
type source struct {
	// names and semconv are the identifiers selected from those packages,
	// with the number of uses.
	names, semconv map[string]int
	// literals are the string literals, with where they are.
	literals map[string][]string
}

// parsePackage reads the non-test Go files of the package in dir.
func parsePackage(t *testing.T, dir string) source {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	src := source{names: map[string]int{}, semconv: map[string]int{}, literals: map[string][]string{}}
	fset := token.NewFileSet()
	parsed := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		parsed++
		// The local names of the two imports.
		local := map[string]map[string]int{}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			var m map[string]int
			switch p {
			case namesPath:
				m = src.names
			case semconvPath:
				m = src.semconv
			default:
				continue
			}
			name := filepath.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			local[name] = m
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && local[id.Name] != nil {
					local[id.Name][n.Sel.Name]++
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					if s, err := strconv.Unquote(n.Value); err == nil {
						src.literals[s] = append(src.literals[s], fset.Position(n.Pos()).String())
					}
				}
			}
			return true
		})
	}
	require.NotZero(t, parsed, "no Go files in %s", dir)
	return src
}

// constants returns the string constants this package declares, by name.
func constants(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "names.go", nil, parser.SkipObjectResolution)
	require.NoError(t, err)
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				require.True(t, ok && lit.Kind == token.STRING, "%s is not a string literal: the tests read the values from the source", id.Name)
				v, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				out[id.Name] = v
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// fromOtherInstrumentations are semantic-convention names that waterfall
// reads from spans otelhooks does not make.
var fromOtherInstrumentations = map[string]bool{
	"ExceptionEventName": true, // span.RecordError
	"ExceptionMessage":   true,
	"ExceptionType":      true,
}

// pinnedElsewhere are names that otelhooks does not spell out, pinned by
// another test of this file.
var pinnedElsewhere = map[string]bool{
	"StartSuffix":    true, // TestPhaseEventsAreSpanNamesWithSuffix
	"DoneSuffix":     true, // TestPhaseEventsAreSpanNamesWithSuffix
	"BodyDoneClosed": true, // TestBodyDoneClosedIsClienttraceReason; otelhooks records the reason's String
}

// TestWaterfallRecognizesOnlyEmittedNames fails when waterfall looks for a
// span, event or attribute name that otelhooks does not record: a name
// otelhooks stopped using, or one waterfall spells on its own.
func TestWaterfallRecognizesOnlyEmittedNames(t *testing.T) {
	wf := parsePackage(t, "../../waterfall")
	oh := parsePackage(t, "../../otelhooks")

	require.NotEmpty(t, wf.names, "waterfall takes its names from this package")
	for name := range wf.names {
		if pinnedElsewhere[name] {
			continue
		}
		_, used := oh.names[name]
		assert.True(t, used, "waterfall recognizes names.%s, which otelhooks never uses", name)
	}

	// Semantic-convention keys: otelhooks uses the constructor (X) or the
	// key (XKey) of an attribute that waterfall reads by its key.
	for sel := range wf.semconv {
		base := strings.TrimSuffix(sel, "Key")
		if fromOtherInstrumentations[base] || sel == "SchemaURL" {
			continue
		}
		_, asKey := oh.semconv[base+"Key"]
		_, asFunc := oh.semconv[base]
		assert.True(t, asKey || asFunc, "waterfall reads semconv.%s, which otelhooks never records", sel)
	}
}

// TestNamesAreNotSpelledOutElsewhere fails when a package spells out one of
// these names as a string literal instead of using the constant, which a
// rename here would not reach.
func TestNamesAreNotSpelledOutElsewhere(t *testing.T) {
	values := map[string]string{}
	for name, v := range constants(t) {
		// Values without a dot, such as "closed", are ordinary words.
		if strings.Contains(v, ".") {
			values[v] = name
		}
	}
	for _, dir := range []string{"../../waterfall", "../../otelhooks", "../../cmd/wiretrace"} {
		src := parsePackage(t, dir)
		for lit, where := range src.literals {
			if name, ok := values[lit]; ok {
				assert.Failf(t, "name spelled out", "%q at %v: use names.%s", lit, where, name)
			}
			if strings.HasPrefix(lit, "wiretrace.") {
				assert.Failf(t, "name outside names", "%q at %v: wiretrace.* names belong in internal/names", lit, where)
			}
		}
	}
}

// TestPhaseEventsAreSpanNamesWithSuffix pins the rule waterfall relies on to
// rebuild phases from events: EventXStart is SpanX + StartSuffix, EventXDone
// is SpanX + DoneSuffix.
func TestPhaseEventsAreSpanNamesWithSuffix(t *testing.T) {
	consts := constants(t)
	pairs := 0
	for _, name := range slices.Sorted(maps.Keys(consts)) {
		for _, edge := range []struct{ suffix, value string }{{"Start", names.StartSuffix}, {"Done", names.DoneSuffix}} {
			phase, ok := strings.CutPrefix(name, "Event")
			if !ok {
				continue
			}
			phase, ok = strings.CutSuffix(phase, edge.suffix)
			if !ok {
				continue
			}
			span, isPhase := consts["Span"+phase]
			if !isPhase {
				continue
			}
			pairs++
			assert.Equal(t, span+edge.value, consts[name], name)
		}
	}
	assert.Equal(t, 16, pairs, "eight phases, two events each")
}

// TestBodyDoneClosedIsClienttraceReason pins the value waterfall compares
// wiretrace.body.done with.
func TestBodyDoneClosedIsClienttraceReason(t *testing.T) {
	assert.Equal(t, names.BodyDoneClosed, clienttrace.BodyClosed.String())
}

// TestNamesAreDocumented fails when a name is missing from docs/spans.md or
// docs/metrics.md, which document every span, event, attribute and metric.
// The done event of a phase may be written ".done" after its start event.
func TestNamesAreDocumented(t *testing.T) {
	var docs strings.Builder
	for _, path := range []string{"../../docs/spans.md", "../../docs/metrics.md"} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		docs.Write(b)
	}
	text := strings.Join(strings.Fields(docs.String()), " ")
	var missing []string
	for name, v := range constants(t) {
		if !strings.Contains(v, ".") || strings.HasPrefix(v, ".") {
			continue // a value or a suffix, not a name
		}
		if phase, ok := strings.CutSuffix(v, names.DoneSuffix); ok && strings.Contains(text, "`"+phase+names.StartSuffix+"` / `"+names.DoneSuffix+"`") {
			continue
		}
		if !strings.Contains(text, "`"+v) {
			missing = append(missing, name+" = "+strconv.Quote(v))
		}
	}
	slices.Sort(missing)
	assert.Empty(t, missing, "names missing from docs/spans.md and docs/metrics.md")
}
