package propagation

import (
	"fmt"
	"reflect"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	otelpropagation "go.opentelemetry.io/otel/propagation"
)

// traceContext is the propagator that injects while the application has not
// set a global one: W3C Trace Context, and no baggage, which is sent only
// when the application asks for it.
var traceContext = func() resolved {
	r := newResolved(otelpropagation.TraceContext{})
	r.noBaggage = true
	return r
}()

// w3c is the propagator that extracts while the application has not set a
// global one: W3C Trace Context and W3C Baggage. Reading the baggage a client
// sent exposes nothing; sending it on is up to the injecting side.
var w3c = newResolved(otelpropagation.NewCompositeTextMapPropagator(
	otelpropagation.TraceContext{}, otelpropagation.Baggage{}))

// unsetGlobal is OpenTelemetry's own default global propagator, the one
// otel.GetTextMapPropagator returns until the application calls
// otel.SetTextMapPropagator, or nil if an init function set the global
// before this package was initialized. It is a pointer, so comparing it with
// any propagator never panics.
var unsetGlobal = func() otelpropagation.TextMapPropagator {
	g := otel.GetTextMapPropagator()
	if fmt.Sprintf("%T", g) != "*global.textMapPropagator" {
		return nil
	}
	return g
}()

// resolveDefault returns the propagator to use without WithPropagators: the
// global propagator once the application has set one, whatever it is (an
// empty composite sends nothing), and until then W3C Trace Context to
// inject, W3C Trace Context and Baggage to extract.
//
// It runs on every request. Resolving the Fields of a composite propagator,
// the usual global, costs four allocations, so the last global seen is cached
// with its resolved Fields: BenchmarkClone/impl=propagation/ctx=span/global=composite
// makes 5 allocations with the cache, 9 without.
func resolveDefault(extract bool) resolved {
	g := otel.GetTextMapPropagator()
	if unsetGlobal != nil && g == unsetGlobal {
		if extract {
			return w3c
		}
		return traceContext
	}
	if e := globalCache.Load(); e != nil && e.matches(g) {
		return e.res
	}
	r := newResolved(g)
	if e := newGlobalEntry(g, r); e != nil {
		globalCache.Store(e)
	}
	return r
}

// globalCache holds the last global propagator resolved, or nil.
var globalCache atomic.Pointer[globalEntry]

// globalEntry is a global propagator with its resolved fields, and how to
// recognize it again: == on two interfaces holding the same non-comparable
// dynamic type, such as the composite propagator (a slice), panics, so a
// slice is recognized by its array and length instead.
type globalEntry struct {
	global  otelpropagation.TextMapPropagator
	res     resolved
	typ     reflect.Type
	byEqual bool    // == cannot panic for typ; else typ is a slice
	array   uintptr // the slice's array; global keeps it alive
	len     int
}

// newGlobalEntry returns the cache entry for g, or nil if g's type gives no
// cheap and safe way to recognize it.
func newGlobalEntry(g otelpropagation.TextMapPropagator, r resolved) *globalEntry {
	e := &globalEntry{global: g, res: r, typ: reflect.TypeOf(g)}
	switch v := reflect.ValueOf(g); {
	case safelyComparable(e.typ):
		e.byEqual = true
	case e.typ.Kind() == reflect.Slice:
		e.array, e.len = v.Pointer(), v.Len()
	default:
		return nil
	}
	return e
}

// matches reports whether g is the propagator of e. A slice holding the same
// array with the same length is taken to be the same propagator; its elements
// cannot be changed through the propagator.
func (e *globalEntry) matches(g otelpropagation.TextMapPropagator) bool {
	if reflect.TypeOf(g) != e.typ {
		return false
	}
	if e.byEqual {
		return g == e.global
	}
	v := reflect.ValueOf(g)
	return v.Pointer() == e.array && v.Len() == e.len
}

// safelyComparable reports whether == on two values of type t never panics:
// t is comparable and holds no interface, whose dynamic value might not be.
func safelyComparable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface, reflect.Slice, reflect.Map, reflect.Func:
		return false
	case reflect.Array:
		return safelyComparable(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !safelyComparable(t.Field(i).Type) {
				return false
			}
		}
	}
	return true
}
