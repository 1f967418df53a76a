# Shared helpers for the bench/ scripts. Sourced, not run.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
DROPFEED="$REPO_DIR/target/release/dropfeed"

say() { printf '== %s\n' "$*" >&2; }

# need_cmd CMD PACKAGE...: install the Debian packages when CMD is missing. `apt-get update`
# only when the first install fails (a fresh image has no package lists).
need_cmd() {
    local cmd=$1; shift
    command -v "$cmd" >/dev/null 2>&1 && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing $* (for $cmd)"
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@" >&2; then
        "${sudo[@]}" apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@" >&2
    fi
    command -v "$cmd" >/dev/null 2>&1 || { echo "still no $cmd after installing $*" >&2; exit 1; }
}

build_dropfeed() {
    say "cargo build --release"
    (cd "$REPO_DIR" && cargo build --release --quiet)
}

# A fresh work folder under target/bench/ (removed by the caller's trap).
make_workdir() {
    mkdir -p "$REPO_DIR/target/bench"
    mktemp -d "$REPO_DIR/target/bench/$1.XXXXXX"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# write_config DIR: a config.toml for posts in DIR/posts, state database beside it.
write_config() {
    cat >"$1/config.toml" <<'EOF'
[site]
title = "Bench"
base_url = "http://127.0.0.1:8080"
author = "Newsroom"
[posts]
dir = "posts"
EOF
    rm -f "$1"/dropfeed.db*
}

now() { date +%s.%N; }

# start_dropfeed DIR [PREFIX...]: runs `dropfeed serve` on DIR/config.toml on a free port
# (optionally behind PREFIX, e.g. `taskset -c 0`), log in DIR/serve.log. Sets DF_PID,
# DF_ADDR (host:port) and DF_START_S (seconds from exec to the `listening on` line).
start_dropfeed() {
    local dir=$1; shift
    local t0 t1
    : >"$dir/serve.log"
    t0=$(now)
    "$@" "$DROPFEED" serve --config "$dir/config.toml" --listen 127.0.0.1:0 2>"$dir/serve.log" &
    DF_PID=$!
    while ! grep -q 'listening on' "$dir/serve.log"; do
        if ! kill -0 "$DF_PID" 2>/dev/null; then
            echo "dropfeed serve exited before listening:" >&2; tail -20 "$dir/serve.log" >&2; exit 1
        fi
        sleep 0.01
    done
    t1=$(now)
    DF_START_S=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
    DF_ADDR=$(grep -o 'listening on http://[^ ]*' "$dir/serve.log" | head -1 | sed 's|.*http://||')
}

stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
}

# vm_kb PID FIELD: VmRSS / VmHWM of PID in KB.
vm_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

mib() { python3 -c "print(f'{$1 / 1024:.1f}')"; }

# Other work on the machine skews every figure: print the load average to show it.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
