#!/usr/bin/env bash
# End-to-end check against a real Jaeger: start Jaeger on loopback, send it
# the spans of examples/jaeger over OTLP/gRPC and OTLP/HTTP (and of the
# wiretrace CLI, when cmd/wiretrace exists), and assert through Jaeger's
# query API that the span trees arrived whole. README.md beside this file
# says what is checked.
#
#	bash tools/jaeger/e2e.sh
#
# Jaeger is built from this tool module once and cached in
# ${XDG_CACHE_HOME:-~/.cache}/wiretrace/jaeger-VERSION (the first build:
# 561 s of CPU time measured, ~5 minutes on 2 idle cores, and ~2 GB of
# module and build cache); a cached binary is reused while
# it matches go.mod and go.sum. Every process started here is stopped on
# exit, whatever happens. Needs only Go and bash: no curl, no jq.
#
# WIRETRACE_E2E_CLI=0 skips the CLI's part, =1 requires it; by default it
# runs when cmd/wiretrace exists.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

step() { printf '\n=== e2e: %s\n' "$*"; }
die() { printf 'e2e: FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

started=$(now)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wiretrace-e2e.XXXXXX")
pids=()      # every background process started here, stopped on exit
jaeger_pid=""
ok=false

# stop ends a process started here, by its PID: politely, then by force.
stop() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		stop "$pid"
	done
	if [ "$ok" != true ]; then
		for f in "$tmp"/*.log; do
			[ -s "$f" ] || continue
			printf '\n--- last lines of %s\n' "$(basename "$f")" >&2
			tail -n 40 "$f" >&2
		done
		printf '\ne2e: FAILED after %ss\n' "$(($(now) - started))" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# background runs "$@" in the background, output to the log $1, and
# remembers its PID in $bg_pid.
background() {
	local log=$1
	shift
	"$@" >"$tmp/$log" 2>&1 &
	bg_pid=$!
	pids+=("$bg_pid")
}

# port_open tells whether something accepts connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cd "$here"
version=$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2 }' go.mod)
[ -n "$version" ] || die "go.mod does not require github.com/jaegertracing/jaeger"

step "helpers"
go build -o "$tmp/e2echeck" ./e2echeck
(cd "$root/examples" && go build -o "$tmp/jaeger-example" ./jaeger)
check="$tmp/e2echeck"

step "jaeger $version"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/wiretrace"
bin="$cache/jaeger-$version"
if [ -x "$bin" ] && "$check" binary -bin "$bin" -modfile go.mod -sumfile go.sum; then
	echo "cached: $bin"
else
	echo "building $bin: the first build takes 561 s of CPU (measured), ~5 minutes on 2 idle cores"
	t0=$(now)
	mkdir -p "$cache"
	go build -o "$bin.tmp.$$" github.com/jaegertracing/jaeger/cmd/jaeger
	mv -f "$bin.tmp.$$" "$bin"
	"$check" binary -bin "$bin" -modfile go.mod -sumfile go.sum
	echo "built in $(($(now) - t0))s"
fi

# The ports this script needs must be free: another Jaeger's answers would
# make the checks meaningless.
for port in 4317 4318 13133 16685 16686; do
	if port_open "$port"; then
		die "127.0.0.1:$port is in use: stop what listens there (another Jaeger?) and run again"
	fi
done

step "start jaeger on 127.0.0.1"
t0=$(now)
# OTEL_TRACES_SAMPLER=always_off: Jaeger's query service traces itself to
# 127.0.0.1:4317, its own receiver, which is gone at shutdown: its exporter
# would hold the shutdown for 10 seconds.
background jaeger.log env JAEGER_LISTEN_HOST=127.0.0.1 OTEL_TRACES_SAMPLER=always_off "$bin" \
	--set=extensions.jaeger_query.http.endpoint=127.0.0.1:16686 \
	--set=extensions.jaeger_query.grpc.endpoint=127.0.0.1:16685
jaeger_pid=$bg_pid
if ! "$check" health -url http://127.0.0.1:13133/status -timeout 60s; then
	kill -0 "$jaeger_pid" 2>/dev/null || die "jaeger exited at start"
	die "jaeger not healthy after 60s"
fi
echo "healthy in $(($(now) - t0))s; listening sockets of jaeger (pid $jaeger_pid):"
"$check" ports -pid "$jaeger_pid" || die "jaeger listens beyond loopback"

api=http://127.0.0.1:16686
run_id="e2e-$$-$(now)"

# example PROTOCOL ENDPOINT: three requests through examples/jaeger, whose
# spans go to ENDPOINT, then the check of their traces in Jaeger.
example() {
	local proto=$1 endpoint=$2 run="$run_id-$1"
	step "examples/jaeger over OTLP/$proto ($endpoint), run $run"
	"$tmp/jaeger-example" -otlp "$endpoint" -listen 127.0.0.1:0 -requests 3 -run "$run" \
		>"$tmp/example-$proto.log" 2>&1 || die "examples/jaeger over $proto failed"
	cat "$tmp/example-$proto.log"
	"$check" example -api "$api" -run "$run" -traces 3 -timeout 30s
}
example grpc grpc://127.0.0.1:4317
example http http://127.0.0.1:4318

cli=${WIRETRACE_E2E_CLI:-auto}
if [ "$cli" = auto ] && [ -d "$root/cmd/wiretrace" ]; then
	cli=1
fi
if [ "$cli" = 1 ]; then
	step "wiretrace CLI"
	(cd "$root" && go build -o "$tmp/wiretrace" ./cmd/wiretrace)

	# The demo (no URL): its own HTTPS server, spans over gRPC.
	svc=wiretrace-e2e-cli-demo
	"$tmp/wiretrace" -otlp grpc://127.0.0.1:4317 -service "$svc" \
		>"$tmp/cli-demo.log" 2>&1 || die "wiretrace demo failed"
	"$check" client -api "$api" -service "$svc" -timeout 30s

	# The demo again with -connspans (otelhooks.WithConnectionSpans): each
	# request's trace references the separate trace of its connection's
	# setup.
	svc=wiretrace-e2e-cli-connspans
	"$tmp/wiretrace" -connspans -otlp grpc://127.0.0.1:4317 -service "$svc" \
		>"$tmp/cli-connspans.log" 2>&1 || die "wiretrace -connspans demo failed"
	"$check" connspans -api "$api" -service "$svc" -timeout 30s

	# A request to examples/jaeger's frontend, spans over HTTP: the
	# frontend's server span must be the child of the CLI's client span.
	port=$("$check" freeport)
	background cli-target.log "$tmp/jaeger-example" -otlp grpc://127.0.0.1:4317 \
		-listen "127.0.0.1:$port" -run "$run_id-cli-target"
	target_pid=$bg_pid
	for i in $(seq 100); do
		port_open "$port" && break
		kill -0 "$target_pid" 2>/dev/null || die "examples/jaeger exited at start"
		sleep 0.1
	done
	svc=wiretrace-e2e-cli
	"$tmp/wiretrace" -otlp http://127.0.0.1:4318 -service "$svc" -n 2 "http://127.0.0.1:$port/" \
		>"$tmp/cli.log" 2>&1 || die "wiretrace http://127.0.0.1:$port/ failed"
	stop "$target_pid" # flushes the frontend's and backend's spans
	"$check" client -api "$api" -service "$svc" -parent-service wiretrace-frontend -timeout 30s
else
	step "wiretrace CLI: skipped (no cmd/wiretrace, or WIRETRACE_E2E_CLI=$cli)"
fi

step "stop jaeger"
stop "$jaeger_pid"
ok=true
printf '\n=== e2e: ok in %ss\n' "$(($(now) - started))"
