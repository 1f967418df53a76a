#!/usr/bin/env bash
# How long from `cp` of a new post into posts/ until its category feed carries it.
#
# Serves a temp copy of the bundled site with the release binary on a free port, copies
# ROUNDS new article-text posts in one by one, and polls the Transit feed every
# millisecond until each shows. Prints each latency and the median. The figure includes
# the debounce (posts.debounce_ms, 50 ms by default).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9}

cargo build --release --quiet
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r posts config.toml "$work/"
target/release/dropfeed serve --config "$work/config.toml" --listen 127.0.0.1:0 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/log" && break
    sleep 0.05
done
addr=$(grep -o 'listening on http://[^ ]*' "$work/log" | sed 's/listening on //')

python3 - "$addr" "$work" "$ROUNDS" <<'PY'
import shutil, statistics, sys, time, urllib.request
addr, work, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
took = []
for i in range(rounds):
    src = f"{work}/probe-{i}.txt"
    with open(src, "w") as f:
        f.write(f"Posted by Dana Whitfield on November 27, 2026\nCategories: Transit\n\n"
                f"Latency probe {i}: crews filled potholes on Harbor Street.\n")
    start = time.perf_counter()
    shutil.copy(src, f"{work}/posts/probe-{i}.txt")
    while f"Latency probe {i}:".encode() not in urllib.request.urlopen(
            f"{addr}/categories/transit/rss.xml").read():
        time.sleep(0.001)
    took.append((time.perf_counter() - start) * 1000)
    print(f"round {i}: {took[-1]:.1f} ms")
    time.sleep(0.2)
print(f"median cp -> category feed: {statistics.median(took):.1f} ms over {rounds} rounds")
PY
grep "published changes" "$work/log" | tail -3
