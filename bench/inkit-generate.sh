#!/usr/bin/env bash
# Measures POST /v1/generate on inkit-mock (release build, History in SQLite) against the machine's ceiling
# (a bare hyper server that only parses the JSON body), in the same run, with wrk: 2 threads, 32
# connections. Then checks that History holds every request that got a 2xx.
#
# The two are measured in turn, ROUNDS times (ceiling, mock, ceiling, mock, ...), and the ratio is that of
# the medians: the speed of a shared virtual machine can change by half within a minute, and taking each
# server's runs at the same moments keeps such a change out of the ratio.
#
#   bench/inkit-generate.sh [SECONDS] [ROUNDS]      (default 10 s, 3 rounds; needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release -q -p tapink
cargo build --release -q -p inkit-mock --example ceiling
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

url_of() { # waits for the "listening on" line of a server's stdout file
  for _ in $(seq 100); do
    if grep -q 'listening on' "$1" 2>/dev/null; then sed -n 's/.*listening on //p' "$1" | head -1; return; fi
    sleep 0.1
  done
  echo "server did not start: $(cat "$1")" >&2; exit 1
}

run_wrk() { # url label
  wrk -t2 -c32 -d"${secs}s" --latency -s bench/generate.lua "$1/v1/generate" > "$work/$2.wrk"
  local rps p50 p99 total non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$2.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$work/$2.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$work/$2.wrk")
  total=$(awk '/requests in/ {print $1}' "$work/$2.wrk")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/$2.wrk"); non2xx=${non2xx:-0}
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   requests %9s   non-2xx %s\n' "$2" "$rps" "$p50" "$p99" "$total" "$non2xx"
  echo "$rps" >> "$work/$2.rps"
  echo "$p99" >> "$work/$2.p99"
}

median() { sort -g "$1" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "load: wrk -t2 -c32 -d${secs}s, body = the seed walkthrough's webhook body"
echo

json_field() { python3 -c "import sys,json; d=json.load(sys.stdin); print($1)"; }

# Starts a mock on a fresh data directory, or on the existing one with "again"; sets $pid and $mock.
start_mock() {
  [[ "${1:-}" == again ]] || rm -rf "$work/data"
  target/release/tapink inkit --addr 127.0.0.1:0 --data-dir "$work/data" --templates fixtures/templates \
    --journal-capacity 10000 > "$work/mock.out" 2> "$work/mock.err" &
  pid=$!
  mock=$(url_of "$work/mock.out")
}

# After a run: waits until the mock has finished the requests wrk left in flight, then checks that History
# holds every request it answered 2xx. It may hold a few more: requests in flight when wrk stopped and hung
# up are stored (a request that reached its commit is kept), but were never answered.
check_history() {
  local prev=-1 now
  while :; do
    now=$(curl -s "$mock/__admin/counts" | json_field 'd["routes"].get("POST /generate",{}).get("total",0)')
    [[ "$now" == "$prev" ]] && break
    prev=$now; sleep 0.5
  done
  ok=$(curl -s "$mock/__admin/counts" | json_field 'sum(v for k,v in d["routes"].get("POST /generate",{}).get("by_status",{}).items() if k.startswith("2"))')
  stored=$(curl -s "$mock/__admin/history?page_size=1" | json_field 'd["metadata"]["pagination"]["total_count"]')
  echo "    2xx answers counted by the mock: $ok; History entries: $stored ($((stored - ok)) stored but not answered: wrk hung up)"
  (( ok <= stored )) || { echo "every 2xx is in History: NO" >&2; exit 1; }
}

target/release/examples/ceiling 127.0.0.1:0 > "$work/ceiling.out" &
ceiling_pid=$!
ceiling=$(url_of "$work/ceiling.out")
for round in $(seq "$rounds"); do
  echo "round $round of $rounds (load average $(cut -d' ' -f1 /proc/loadavg))"
  run_wrk "$ceiling" "bare hyper (ceiling)"
  start_mock
  run_wrk "$mock" "inkit-mock, SQLite History"
  check_history
  peak_rss=$(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
done
kill $ceiling_pid; wait $ceiling_pid 2>/dev/null || true

# Restart on the last round's data directory: what is in History must have been on disk.
start_mock again
after_restart=$(curl -s "$mock/__admin/history?page_size=1" | json_field 'd["metadata"]["pagination"]["total_count"]')

mock_rps=$(median "$work/inkit-mock, SQLite History.rps")
ceiling_rps=$(median "$work/bare hyper (ceiling).rps")
ratio=$(awk -v a="$mock_rps" -v b="$ceiling_rps" 'BEGIN {printf "%.2f", a/b}')
echo
echo "medians of $rounds rounds: ceiling $ceiling_rps req/s, mock $mock_rps req/s (mock p99 by round: $(paste -sd' ' "$work/inkit-mock, SQLite History.p99"))"
echo "mock / ceiling: $ratio"
echo "last round: History entries $stored; after a restart from SQLite: $after_restart; mock peak resident memory: $peak_rss"
if [[ "$stored" == "$after_restart" ]]; then echo "every 2xx is in History: yes"; else echo "every 2xx is in History: NO"; exit 1; fi
