package otelhooks

// Version returns the version of wiretrace's otelhooks instrumentation, the
// version of the instrumentation scope of its spans.
func Version() string {
	return "0.1.0"
}
