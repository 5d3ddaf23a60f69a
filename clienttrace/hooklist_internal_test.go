package clienttrace

import (
	"context"
	"net/http/httptrace"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lifecycleHooks are the hooks of ClientTrace that httptrace.ClientTrace
// does not have.
var lifecycleHooks = map[string]bool{"RoundTripDone": true, "BodyDone": true}

// withOnlyHook returns a ClientTrace whose only hook is the one named, which
// counts its calls in *calls and returns zero values.
func withOnlyHook(t *testing.T, name string, calls *int) *ClientTrace {
	t.Helper()
	tr := new(ClientTrace)
	field := reflect.ValueOf(tr).Elem().FieldByName(name)
	require.True(t, field.IsValid(), "ClientTrace has no field %s", name)
	ft := field.Type()
	field.Set(reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
		*calls++
		out := make([]reflect.Value, ft.NumOut())
		for i := range out {
			out[i] = reflect.Zero(ft.Out(i))
		}
		return out
	}))
	return tr
}

// callHook calls the hook named of the struct s points to (a ClientTrace or
// an httptrace.ClientTrace) with zero arguments, and reports whether it was
// set.
func callHook(s any, name string) bool {
	field := reflect.ValueOf(s).Elem().FieldByName(name)
	if field.IsNil() {
		return false
	}
	args := make([]reflect.Value, field.Type().NumIn())
	for i := range args {
		args[i] = reflect.Zero(field.Type().In(i))
	}
	field.Call(args)
	return true
}

// TestEveryHTTPTraceHookIsCarried compares ClientTrace with
// httptrace.ClientTrace by reflection, so that a hook a Go release adds is
// never silently dropped: each httptrace hook must exist in ClientTrace with
// the same type, and survive the four places that list the hooks by hand —
// Compose, ToHTTPTrace (and WithClientTrace, through copyToHTTPTrace),
// FromHTTPTrace and hasHTTPHooks.
func TestEveryHTTPTraceHookIsCarried(t *testing.T) {
	ht := reflect.TypeFor[httptrace.ClientTrace]()
	ct := reflect.TypeFor[ClientTrace]()
	require.Equal(t, ht.NumField()+len(lifecycleHooks), ct.NumField(),
		"ClientTrace has httptrace's hooks and the lifecycle hooks, no more, no less")
	for i := range ct.NumField() {
		f := ct.Field(i)
		if lifecycleHooks[f.Name] {
			continue
		}
		hf, ok := ht.FieldByName(f.Name)
		if assert.True(t, ok, "ClientTrace.%s is not a hook of httptrace.ClientTrace", f.Name) {
			assert.Equal(t, hf.Type, f.Type, "type of %s", f.Name)
		}
	}

	for i := range ht.NumField() {
		name := ht.Field(i).Name
		t.Run(name, func(t *testing.T) {
			calls := 0
			tr := withOnlyHook(t, name, &calls)

			assert.True(t, tr.hasHTTPHooks(), "hasHTTPHooks")
			assert.False(t, tr.hasLifecycleHooks(), "hasLifecycleHooks")

			// Composed with itself, the hook runs twice.
			assert.True(t, callHook(Compose(tr, nil, tr), name), "Compose drops it")
			assert.Equal(t, 2, calls, "Compose calls both")

			h := ToHTTPTrace(tr)
			assert.True(t, callHook(h, name), "ToHTTPTrace drops it")
			assert.True(t, callHook(FromHTTPTrace(h), name), "FromHTTPTrace drops it")

			// What net/http reads from the context.
			ctx := WithClientTrace(context.Background(), tr)
			installed := httptrace.ContextClientTrace(ctx)
			if assert.NotNil(t, installed, "WithClientTrace installs no httptrace hooks") {
				assert.True(t, callHook(installed, name), "WithClientTrace drops it")
			}
			assert.Equal(t, 5, calls)
		})
	}

	for name := range lifecycleHooks {
		t.Run(name, func(t *testing.T) {
			calls := 0
			tr := withOnlyHook(t, name, &calls)
			assert.False(t, tr.hasHTTPHooks(), "hasHTTPHooks")
			assert.True(t, tr.hasLifecycleHooks(), "hasLifecycleHooks")
			assert.True(t, callHook(Compose(tr, tr), name), "Compose drops it")
			assert.Equal(t, 2, calls)
		})
	}
}
