#!/usr/bin/env bash
# The generated client's benchmark (see `## Clients` in docs/benchmarks.md): generates the chat example, builds the
# server and `benches/client/client_bench.rs` (as an example of the generated crate) in release, and runs it on
# SQLite. Knobs: READS (2000), WRITES (300); builds go to CARGO_TARGET_DIR (default <repo>/target/bench-client).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/ssot-client-bench.XXXXXX)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench-client}
trap 'rm -rf "$WORK"' EXIT
cargo run --quiet --release --manifest-path "$ROOT/Cargo.toml" -- generate "$ROOT/schemas/examples/chat.yaml" -o "$WORK/chat-api" >/dev/null
cp "$ROOT/benches/client/client_bench.rs" "$WORK/chat-api/examples/client_bench.rs"
cat >>"$WORK/chat-api/Cargo.toml" <<'TOML'

[[example]]
name = "client_bench"
required-features = ["client"]
TOML
cargo build --quiet --release --manifest-path "$WORK/chat-api/Cargo.toml"
cargo build --quiet --release --manifest-path "$WORK/chat-api/Cargo.toml" --features client --example client_bench
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
SSOT_SERVER_BIN="$CARGO_TARGET_DIR/release/chat-api" "$CARGO_TARGET_DIR/release/examples/client_bench"
