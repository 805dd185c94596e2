#!/usr/bin/env bash
# Compile times of a generated crate (docs/benchmarks.md, "Generated crate"): the chat example's cold `cargo build`
# into a fresh target dir, then `cargo check` after one model changes in the schema and the crate is regenerated
# (a field added to `Room`, then removed again, ROUNDS times each), and after a change that alters no type (only
# the modification time of src/lib.rs), the floor of any check. Each line gives wall and CPU time (user + system of
# cargo and rustc) and the cores other processes used meanwhile, since wall time depends on them.
#
#   benches/compile/run.sh            # ROUNDS=4 WORK=target/bench-compile
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-4}
WORK=${WORK:-$PWD/target/bench-compile}
LOG="$WORK/run.log"
QUIET_WAIT=${QUIET_WAIT:-0}
rm -rf "$WORK"
mkdir -p "$WORK"
. benches/common/lib.sh

cargo build --release --quiet
gen=$PWD/target/release/ssot-gen
export CARGO_TARGET_DIR="$WORK/target"
cp schemas/examples/chat.yaml "$WORK/a.yaml"
sed 's/^\(      title: .*\)$/\1\n      topic:   string?/' schemas/examples/chat.yaml >"$WORK/b.yaml"
grep -q '^      topic:' "$WORK/b.yaml" || die "could not add a field to Room in $WORK/b.yaml"
"$gen" generate "$WORK/a.yaml" -o "$WORK/crate" >/dev/null
cd "$WORK/crate"

# Runs `cargo $@` and logs its wall and CPU time with the cores others used meanwhile.
timed() {
    local what=$1 b0 t0 b1 t1 out
    shift
    read -r b0 t0 < <(cpu_busy_total)
    out=$( { /usr/bin/time -f "%e %U %S" cargo "$@" --quiet 2>&1 >/dev/null; } 2>&1 | tail -1)
    read -r b1 t1 < <(cpu_busy_total)
    awk -v what="$what" -v o="$out" -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v n="$NCPU" 'BEGIN {
        split(o, x, " "); cpu = x[2] + x[3]; wall = x[1]
        # Cores busy over the run, less ours (CPU seconds over wall seconds).
        others = (t ? b / t * n : 0) - (wall > 0 ? cpu / wall : 0); if (others < 0) others = 0
        printf "%-40s %7.2f s wall %7.2f s CPU   others: %.2f cores\n", what, wall, cpu, others
    }' | tee -a "$LOG"
}

log "idle load before the cold build: $(idle_load) cores"
timed "cold cargo build" build
timed "first cargo check (dependencies)" check
for ((i = 1; i <= ROUNDS; i++)); do
    for v in b a; do
        "$gen" generate "$WORK/$v.yaml" -o . >/dev/null
        timed "check after regenerating ($v.yaml)" check
    done
    touch src/lib.rs
    timed "check after touching src/lib.rs" check
done
