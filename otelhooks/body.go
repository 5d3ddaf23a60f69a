package otelhooks

import "github.com/wiretrace/wiretrace/clienttrace"

// bodyFailed reports whether a body that ended for reason failed: a read
// error, or a write error on the body of a 101 Switching Protocols response
// (as otelhttp records it). The request failed with it.
func bodyFailed(reason clienttrace.BodyDoneReason) bool {
	return reason == clienttrace.BodyReadError || reason == clienttrace.BodyWriteError
}
