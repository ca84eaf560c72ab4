#!/usr/bin/env bash
# Realtime load test (see bench/REALTIME.md): builds the blog backend and the load client in
# release mode, starts the backend on a fresh database, and runs the client against it.
#   bench/realtime-load/run.sh [sqlite|postgres] [client options…]
# e.g. bench/realtime-load/run.sh sqlite --subscribers 1000 --writes 1000 --collection posts
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
engine="${1:-sqlite}"; shift || true
target="${CARGO_TARGET_DIR:-$root/target}/e2e"
crate="$target/crates/blog-bench"
cargo run --quiet --manifest-path "$root/Cargo.toml" --bin baas -- generate "$root/schemas/blog.yaml" --out "$crate" >/dev/null
CARGO_TARGET_DIR="$target" cargo build --quiet --release --manifest-path "$crate/Cargo.toml"
CARGO_TARGET_DIR="$target" cargo build --quiet --release --manifest-path "$root/bench/realtime-load/Cargo.toml"
bin="$target/release/blog-backend"
client="$target/release/realtime-load"

work="$(mktemp -d)"
case "$engine" in
  sqlite) db="sqlite://$work/data.db" ;;
  postgres)
    base="${BAAS_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
    name="baas_rt_load_$$"
    psql "$base/postgres" -qc "CREATE DATABASE $name" >/dev/null
    db="$base/$name" ;;
  *) echo "engine: sqlite or postgres" >&2; exit 2 ;;
esac
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ulimit -n 20000
RUST_LOG=warn "$bin" serve --http "127.0.0.1:$port" --db "$db" >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "$engine" = postgres ]; then psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "engine                 $engine ($(nproc) cores, client and server on one machine)"
"$client" --url "http://127.0.0.1:$port" --pid "$server" "$@"
