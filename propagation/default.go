package propagation

import (
	"reflect"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	otelpropagation "go.opentelemetry.io/otel/propagation"
)

// w3c is the propagator used while the global one is the no-op default.
var w3c = newResolved(otelpropagation.NewCompositeTextMapPropagator(
	otelpropagation.TraceContext{}, otelpropagation.Baggage{}))

// resolveDefault returns the global propagator, otel.GetTextMapPropagator(),
// if its Fields are not empty, and W3C Trace Context plus W3C Baggage
// otherwise.
//
// It runs on every request, so it avoids calling Fields, which allocates for
// a composite propagator, by caching the last global propagator seen with a
// non-empty Fields. A global with empty Fields is asked again each time: the
// no-op default's Fields do not allocate, and that default is a delegating
// propagator whose Fields become non-empty when the application sets the
// global propagator.
func resolveDefault() resolved {
	g := otel.GetTextMapPropagator()
	if e := globalCache.Load(); e != nil && e.matches(g) {
		return e.res
	}
	r := newResolved(g)
	if r.fields == nil {
		return w3c
	}
	if e := newGlobalEntry(g, r); e != nil {
		globalCache.Store(e)
	}
	return r
}

// globalCache holds the last global propagator resolved, or nil.
var globalCache atomic.Pointer[globalEntry]

// globalEntry is a global propagator with its resolved fields, and what it
// takes to recognize it again without comparing interfaces: == on two
// interfaces holding the same non-comparable dynamic type, such as the
// composite propagator (a slice), panics.
type globalEntry struct {
	global otelpropagation.TextMapPropagator
	res    resolved
	typ    reflect.Type
	kind   entryKind
	ptr    uintptr // the slice's array or the map; global keeps it alive
	len    int     // the slice's length
}

type entryKind uint8

const (
	byEqual entryKind = iota + 1 // == cannot panic for typ
	bySlice                      // same array and length
	byMap                        // same map
)

// newGlobalEntry returns the cache entry for g, or nil if g's type gives no
// cheap and safe way to recognize it.
func newGlobalEntry(g otelpropagation.TextMapPropagator, r resolved) *globalEntry {
	e := &globalEntry{global: g, res: r, typ: reflect.TypeOf(g)}
	switch v := reflect.ValueOf(g); {
	case safelyComparable(e.typ):
		e.kind = byEqual
	case e.typ.Kind() == reflect.Slice:
		e.kind, e.ptr, e.len = bySlice, v.Pointer(), v.Len()
	case e.typ.Kind() == reflect.Map:
		e.kind, e.ptr = byMap, v.Pointer()
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
	switch e.kind {
	case byEqual:
		return g == e.global
	case bySlice:
		v := reflect.ValueOf(g)
		return v.Pointer() == e.ptr && v.Len() == e.len
	case byMap:
		return reflect.ValueOf(g).Pointer() == e.ptr
	}
	return false
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
