#!/usr/bin/env bash
# Runs the benchmark suite of docs/performance.md: builds the test binary
# once, runs every row once per pass, PASSES times (interleaved: each pass
# runs all rows, so the load of the shared machine hits all rows alike),
# then prints the span accounting, what the floor's SDK rows replay,
# benchstat tables and the overhead over bare and over the floor with a
# verdict per target. Each pass also runs BenchmarkParallelGET (K and H2
# only) at every -cpu of CPUS.
#
#   bench/run.sh            # all setups: K N T H2
#   bench/run.sh K H2       # some setups
#
# Environment: PASSES (8), BENCHTIME (1000x: iterations per row and pass),
# VARIANTS (a regexp of variant names, all by default), CPUS (1,2,4: the
# -cpu list of the parallel rows; empty: no parallel rows), NOTIME (1: leave
# time out of the tables and verdicts, for a loaded machine, whose allocations
# and bytes are stable and whose times are not), OUT (results.txt, beside this
# script; *.txt here is ignored by git).
set -euo pipefail

cd "$(dirname "$0")"

BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
PASSES=${PASSES:-8}
BENCHTIME=${BENCHTIME:-1000x}
VARIANTS=${VARIANTS:-.*}
CPUS=${CPUS-1,2,4}
NOTIME=${NOTIME:-}
OUT=${OUT:-results.txt}
setups=("$@")
if [ ${#setups[@]} -eq 0 ]; then
	setups=(K N T H2)
fi

export PATH="$(go env GOPATH)/bin:$PATH"
if ! { command -v benchstat >/dev/null && go version -m "$(command -v benchstat)" | grep -q "$BENCHSTAT_VERSION"; }; then
	go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" .
go build -o "$tmp/overhead" ./overhead

setup_re=$(IFS='|'; echo "${setups[*]}")
pattern="^BenchmarkGET\$/^setup=($setup_re)\$/^variant=($VARIANTS)\$"
parallel_pattern="^BenchmarkParallelGET\$/^setup=($setup_re)\$/^variant=($VARIANTS)\$"

: >"$OUT"
start=$SECONDS
for pass in $(seq 1 "$PASSES"); do
	printf 'pass %d/%d (%ds)\n' "$pass" "$PASSES" $((SECONDS - start)) >&2
	"$tmp/bench.test" -test.run '^$' -test.bench "$pattern" -test.benchmem \
		-test.count 1 -test.benchtime "$BENCHTIME" >>"$OUT"
	if [ -n "$CPUS" ]; then
		"$tmp/bench.test" -test.run '^$' -test.bench "$parallel_pattern" -test.benchmem \
			-test.count 1 -test.benchtime "$BENCHTIME" -test.cpu "$CPUS" >>"$OUT"
	fi
done
printf 'done in %ds: %s\n' $((SECONDS - start)) "$OUT" >&2

echo '## Spans and events per request'
"$tmp/bench.test" -test.run '^TestSpanAccounting$' -test.v | sed -n 's/^        //p'

echo
echo '## What the SDK-only rows replay'
"$tmp/bench.test" -test.run '^TestReplayEmitsTheRecordedSpans$' -test.v | sed -n 's/^ *floor_test.go:[0-9]*: //p'

stats=$OUT
overhead_flags=()
if [ -n "$NOTIME" ]; then
	stats=$tmp/notime.txt
	sed -E 's/[[:space:]]+[0-9.]+ ns\/op//' "$OUT" >"$stats"
	overhead_flags=(-notime)
fi

echo
echo '## benchstat -col /variant'
benchstat -col /variant "$stats"

echo
echo '## Overhead over bare and over the floor'
"$tmp/overhead" "${overhead_flags[@]}" "$OUT"
