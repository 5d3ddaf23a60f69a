package otelhooks

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// requestSizeClass is the size class of the runtime's allocator that the
// state of one request fits in: 1,792 B. The next class is 2,048 B.
const requestSizeClass = 1792

var requestSink *request

// TestRequestStateFitsItsSizeClass pins the bytes allocated for the state of
// one traced request. The allocator rounds an object up to a size class,
// after adding, for an object with pointers of more than 512 B, an 8-byte
// header: at 1,792 B the state took 2,048 B, as it did at 1,800 B with the
// pointer to the transport's address cache. 8 bytes too many cost every
// request 256 B, so a field that would push it over should make room first;
// the struct has padding between some bools and the words around them, which
// grouping the bools reclaims (connected sits beside done for this reason).
func TestRequestStateFitsItsSizeClass(t *testing.T) {
	t.Logf("request: %d B, allocated as %d B", unsafe.Sizeof(request{}), allocatedPerRequest())
	assert.LessOrEqual(t, allocatedPerRequest(), uint64(requestSizeClass),
		"request's state outgrew the %d B size class: every traced request pays the next one", requestSizeClass)
}

// allocatedPerRequest returns the bytes the runtime allocates for one
// request's state: the least of a few measurements, since what other
// goroutines allocate meanwhile (tests running in parallel) can only add.
func allocatedPerRequest() uint64 {
	const n = 1000
	least := uint64(1 << 62)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			requestSink = &request{}
		}
		runtime.ReadMemStats(&after)
		least = min(least, (after.TotalAlloc-before.TotalAlloc)/n)
	}
	return least
}

// TestSentCtxFitsItsSizeClass pins the context node every pooled request
// allocates (pool.go) to the 64 B size class: a field more takes 80 B.
func TestSentCtxFitsItsSizeClass(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(sentCtx{}), uintptr(64))
}
