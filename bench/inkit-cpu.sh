#!/usr/bin/env bash
# Server CPU per request for POST /v1/generate (History in SQLite): a figure that holds up when other work
# shares the machine, unlike requests/s. Reads the mock's CPU time (utime + stime from /proc, whole process
# and its server threads, which also commit History) before and after a wrk run, and divides by the requests
# wrk made.
# Then checks that History holds every request answered 2xx (it may hold a few more: requests wrk gave up
# on when it stopped are stored, but were never answered).
#
#   bench/inkit-cpu.sh [SECONDS] [RUNS] [BINARY]     (default 6 s, 3 runs, target/release/tapink; needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-6}
runs=${2:-3}
bin=${3:-target/release/tapink}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
tick=$(getconf CLK_TCK)

cpu_ticks() { # pid [thread-name-pattern]: utime+stime of the process (threads that ended included), or of
              # its threads whose name matches, in clock ticks
  [[ -z "${2:-}" ]] && { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; return; }
  local sum=0 t comm
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    [[ ! "$comm" =~ $2 ]] && continue
    sum=$((sum + $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')))
  done
  echo "$sum"
}

for run in $(seq "$runs"); do
  rm -rf "$work/data"
  "$bin" inkit --addr 127.0.0.1:0 --data-dir "$work/data" --templates fixtures/templates \
    > "$work/mock.out" 2> "$work/mock.err" &
  pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/.*listening on //p' "$work/mock.out" | head -1)
  wrk -t2 -c32 -d2s -s bench/generate.lua "$url/v1/generate" > /dev/null   # warm-up
  all0=$(cpu_ticks $pid); srv0=$(cpu_ticks $pid '^inkit-mock-')
  wrk -t2 -c32 -d"${secs}s" --latency -s bench/generate.lua "$url/v1/generate" > "$work/wrk.out"
  all1=$(cpu_ticks $pid); srv1=$(cpu_ticks $pid '^inkit-mock-')
  n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.out")
  sleep 1
  ok=$(curl -s "$url/__admin/counts" | python3 -c 'import sys,json; r=json.load(sys.stdin)["routes"].get("POST /generate",{}); print(sum(v for k,v in r.get("by_status",{}).items() if k.startswith("2")))')
  stored=$(curl -s "$url/__admin/history?page_size=1" | python3 -c 'import sys,json; print(json.load(sys.stdin)["metadata"]["pagination"]["total_count"])')
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  awk -v a=$((all1 - all0)) -v s=$((srv1 - srv0)) -v n="$n" -v t="$tick" -v r="$rps" -v p="$p99" -v ok="$ok" -v st="$stored" -v rss="$rss" \
    'BEGIN { f = 1e6 / t / n; printf "µs/request: all %5.1f  server threads %5.1f   (%s req/s, p99 %s, 2xx %s, stored %s, %.0f bytes resident per entry)\n", a*f, s*f, r, p, ok, st, rss*1024/st }'
  (( ok <= stored )) || { echo "NOT every 2xx is in History" >&2; exit 1; }
done
