#!/usr/bin/env bash
# Measures POST /v1/generate on inkit-mock (release build, History in SQLite) against the machine's ceiling
# (a bare hyper server that only parses the JSON body), in the same run, with wrk: 2 threads, 32
# connections. Then checks that History holds every request that got a 2xx.
#
#   bench/inkit-generate.sh [SECONDS]      (default 10; needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
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
  echo "$rps" > "$work/$2.rps"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "load: wrk -t2 -c32 -d${secs}s, body = the seed walkthrough's webhook body"
echo

target/release/examples/ceiling 127.0.0.1:0 > "$work/ceiling.out" &
pid=$!
ceiling=$(url_of "$work/ceiling.out")
run_wrk "$ceiling" "bare hyper (ceiling)"
kill $pid; wait $pid 2>/dev/null || true

target/release/tapink inkit --addr 127.0.0.1:0 --data-dir "$work/data" --templates fixtures/templates \
  --journal-capacity 10000 > "$work/mock.out" 2> "$work/mock.err" &
pid=$!
mock=$(url_of "$work/mock.out")
run_wrk "$mock" "inkit-mock, SQLite History"

# wrk stops with requests still in flight; the mock finishes and stores them. Wait until it is quiet.
prev=-1
while :; do
  now=$(curl -s "$mock/__admin/counts" | python3 -c 'import sys,json; print(json.load(sys.stdin)["routes"].get("POST /generate",{}).get("total",0))')
  [[ "$now" == "$prev" ]] && break
  prev=$now; sleep 0.5
done
ok=$(curl -s "$mock/__admin/counts" | python3 -c 'import sys,json; r=json.load(sys.stdin)["routes"].get("POST /generate",{}); print(sum(v for k,v in r.get("by_status",{}).items() if k.startswith("2")))')
stored=$(curl -s "$mock/__admin/history?page_size=1" | python3 -c 'import sys,json; print(json.load(sys.stdin)["metadata"]["pagination"]["total_count"])')
peak_rss=$(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)
kill $pid; wait $pid 2>/dev/null || true
# Restart on the same data directory: what is in History must have been on disk.
target/release/tapink inkit --addr 127.0.0.1:0 --data-dir "$work/data" --templates fixtures/templates > "$work/mock2.out" 2>/dev/null &
mock2=$(url_of "$work/mock2.out")
after_restart=$(curl -s "$mock2/__admin/history?page_size=1" | python3 -c 'import sys,json; print(json.load(sys.stdin)["metadata"]["pagination"]["total_count"])')

ratio=$(awk -v a="$(cat "$work/inkit-mock, SQLite History.rps")" -v b="$(cat "$work/bare hyper (ceiling).rps")" 'BEGIN {printf "%.2f", a/b}')
echo
echo "mock / ceiling: $ratio"
echo "2xx answers counted by the mock: $ok; History entries: $stored; after a restart from SQLite: $after_restart"
echo "mock peak resident memory: $peak_rss"
if [[ "$ok" == "$stored" && "$stored" == "$after_restart" ]]; then echo "every 2xx is in History: yes"; else echo "every 2xx is in History: NO"; exit 1; fi
