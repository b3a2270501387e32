#!/usr/bin/env bash
# User-space instructions per POST /v1/generate (History in SQLite), counted by callgrind: a figure that does
# not move with whatever else runs on the machine, unlike requests/s or CPU time. It does not see the kernel.
#
# The mock runs under `valgrind --tool=callgrind`; 300 warm-up requests, then the counters are zeroed and
# 3,000 requests of the seed's body are sent over 4 keep-alive connections; the instructions counted are
# divided by 3,000. The server threads commit History themselves, so there is no writer thread to split off.
#
#   bench/inkit-callgrind.sh [BINARY] [REQUESTS]      (default target/release/tapink, 3000; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/tapink}
requests=${2:-3000}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT

valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/cg.out" \
  "$bin" inkit --addr 127.0.0.1:0 --data-dir "$work/data" --templates fixtures/templates \
  > "$work/mock.out" 2> "$work/valgrind.err" &
pid=$!
for _ in $(seq 600); do grep -q 'listening on' "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on //p' "$work/mock.out" | head -1)
[[ -n "$url" ]] || { echo "the mock did not start: $(cat "$work/valgrind.err")" >&2; exit 1; }

# Sends N requests of bench/generate.lua's body over 4 keep-alive connections; fails on any non-2xx.
send() {
  python3 - "$url" "$1" <<'EOF'
import http.client, re, sys, threading, urllib.parse
url, n = urllib.parse.urlparse(sys.argv[1]), int(sys.argv[2])
body = re.search(r"wrk\.body = \[\[(.*?)\]\]", open("bench/generate.lua").read(), re.S).group(1).encode()
headers = {"Content-Type": "application/json", "X-Inkit-API-Token": "tapink-inkit-token"}
failed = []
def client(count):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    for _ in range(count):
        conn.request("POST", "/v1/generate", body, headers)
        r = conn.getresponse(); r.read()
        if r.status // 100 != 2: failed.append(r.status)
threads = [threading.Thread(target=client, args=(n // 4 + (i < n % 4),)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
if failed: sys.exit(f"{len(failed)} requests failed, e.g. {failed[0]}")
EOF
}

send 300
callgrind_control --zero "$pid" > /dev/null 2>&1
send "$requests"
callgrind_control --dump "$pid" > /dev/null 2>&1
sleep 1
kill "$pid"; wait "$pid" 2>/dev/null || true

# The dump after zeroing is the first of each thread (`cg.out.1-NN`).
total=0
for f in "$work"/cg.out.1-*; do
  total=$((total + $(awk '/^summary:/ {print $2}' "$f")))
done
awk -v t="$total" -v n="$requests" 'BEGIN { printf "instructions/request: %d   (%d requests)\n", t/n, n }'
