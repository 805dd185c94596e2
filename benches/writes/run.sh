#!/usr/bin/env bash
# Creates per second with 1, 16 and 64 concurrent writers (wrk connections), `POST /api/messages` of the generated
# chat server, side by side in one run:
#   gen    the generated server as it ships: row + outbox event per request, committed in groups on SQLite
#   pertx  the same server with WRITE_BATCH_MAX=1: each request its own transaction (the state before group commit)
#   plain  a hand-written axum handler doing one plain insert per request, no event (benches/server/baseline,
#          `POST /api/messages/plain`): the naive server without any delivery guarantee
# on SQLite and PostgreSQL. See `## Writes` in docs/benchmarks.md for the method and the last figures.
#
#   benches/writes/run.sh                         # needs wrk, curl, psql
#   ROUNDS=3 DURATION=5 BACKENDS=sqlite benches/writes/run.sh
#   benches/writes/run.sh --summary /tmp/ssot-writes-bench.XXXXXX/results.tsv
#
# Knobs (environment): ROUNDS (3) rounds; DURATION (5) seconds per wrk run; WRITERS ("1 16 64"); BACKENDS
# ("sqlite postgres"); OTHERS_MAX (0.15) cores used by other processes above which a run is flagged; QUIET_WAIT
# (60); PG, PG_URL_BASE as in benches/server/run.sh; WORK (a fresh temp folder). Builds go to CARGO_TARGET_DIR
# (default <repo>/target/bench-server, shared with benches/server/run.sh).
#
# Each run starts from the same database: the created messages and their events are deleted (and the WAL
# checkpointed, or PostgreSQL vacuumed) before it. Variants alternate their order between rounds. Each variant's
# server runs alone, started for its run (after a second of warm-up writes) and stopped after it.
set -euo pipefail
# shellcheck source=../common/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

summary() {
    awk -F'\t' "$AWK_MEDIAN"'
        NR == 1 { next }
        {
            k = $1 SUBSEP $2 SUBSEP $3; rps[k] = rps[k] " " $5; seen[$1 SUBSEP $2] = 1
            if (!($1 in b)) { b[$1] = 1; backends[++nb] = $1 }
            if (!($2 in w)) { w[$2] = 1; writers[++nw] = $2 }
            if ($7 != "ok") flagged[k]++
        }
        END {
            printf "%-8s %7s %9s %9s %9s %10s %11s %8s\n", "backend", "writers", "gen", "pertx", "plain",
                "gen/plain", "gen/pertx", "flagged"
            for (i = 1; i <= nb; i++) for (j = 1; j <= nw; j++) {
                bw = backends[i] SUBSEP writers[j]
                if (!(bw in seen)) continue
                g = median(rps[bw SUBSEP "gen"]); t = median(rps[bw SUBSEP "pertx"]); p = median(rps[bw SUBSEP "plain"])
                printf "%-8s %7s %9.0f %9.0f %9.0f %10.2f %11.2f %8d\n", backends[i], writers[j], g, t, p,
                    p ? g / p : 0, t ? g / t : 0, flagged[bw SUBSEP "gen"] + flagged[bw SUBSEP "pertx"] + flagged[bw SUBSEP "plain"]
            }
        }' "$1"
    echo
    echo "creates/s: medians over rounds. flagged: runs during which other processes used more than OTHERS_MAX cores."
    echo "All runs: $1"
}
if [[ ${1:-} == --summary ]]; then
    summary "${2:?usage: run.sh --summary <results.tsv>}"
    exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WRITERS=${WRITERS:-"1 16 64"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
OTHERS_MAX=${OTHERS_MAX:-0.15}
QUIET_WAIT=${QUIET_WAIT:-60}
PG=${PG:-"-h 127.0.0.1 -U postgres -d test"}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
WORK=${WORK:-$(mktemp -d /tmp/ssot-writes-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench-server}
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
LOG=$WORK/run.log
T=$'\t'

for tool in wrk curl awk; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install -y $tool)"
done

PIDS=()
PG_DB=
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    if [[ -n $PG_DB ]]; then
        # shellcheck disable=SC2086
        psql $PG -q -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
        PG_DB=
    fi
}
# stop_server <pid>: stops a server started by start_server and waits for it.
stop_server() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "work folder: $WORK; builds in $CARGO_TARGET_DIR"
(cd "$ROOT" && cargo run --release -q -- generate schemas/examples/chat.yaml -o "$WORK/chat") >>"$LOG" 2>&1 ||
    die "generating failed (see $LOG)"
(cd "$WORK/chat" && cargo build --release -q) >>"$LOG" 2>&1 || die "building the generated crate failed (see $LOG)"
cargo build --release -q --manifest-path "$ROOT/benches/server/baseline/Cargo.toml" >>"$LOG" 2>&1 ||
    die "building the baseline failed (see $LOG)"
GEN=$CARGO_TARGET_DIR/release/chat-api
BASE=$CARGO_TARGET_DIR/release/baseline

# run <pid> <url> <label> <writers>: creates/s of one wrk run, and whether others stayed quiet ("ok"/"busy").
measure() {
    local pid=$1 url=$2 label=$3 writers=$4 threads out b0 t0 b1 t1 rps u0 u1 busy
    threads=$((writers < 2 ? 1 : 2))
    out=$WORK/wrk-$label.txt
    read -r b0 t0 < <(cpu_busy_total)
    u0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    wrk -t"$threads" -c"$writers" -d"${DURATION}s" --timeout 5s -s "$WORK/create.lua" "$url" >"$out" 2>&1 ||
        die "wrk failed: $(cat "$out")"
    read -r b1 t1 < <(cpu_busy_total)
    u1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    if grep -q 'Non-2xx' "$out"; then die "$label: non-2xx answers: $(cat "$out")"; fi
    rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
    [[ -n $rps ]] || die "$label: no Requests/sec in: $(cat "$out")"
    # The machine's busy cores beyond the server's and about one core of wrk: a rough check for outside load.
    busy=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v s=$((u1 - u0)) -v n="$NCPU" -v max="$OTHERS_MAX" \
        'BEGIN { el = t / n; all = t ? b / t * n : 0; srv = el ? s / el : 0; print (all - srv > 1.2 + max) ? "busy" : "ok" }')
    echo "$rps $busy"
}

SECRET="bench-secret-$RANDOM$RANDOM"
printf 'backend\twriters\tvariant\tround\trps\tload1\tquiet\n' >"$RESULTS"

run_backend() {
    local backend=$1 url
    if [[ $backend == sqlite ]]; then
        mkdir -p "$WORK/sqlite"
        rm -f "$WORK/sqlite/chat.db"*
        url="sqlite://$WORK/sqlite/chat.db"
    else
        PG_DB="ssot_writes_$(date +%s)_$$"
        # shellcheck disable=SC2086
        psql $PG -q -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || die "cannot create database $PG_DB"
        url="$PG_URL_BASE/$PG_DB"
    fi
    # Seeding through the generated server, which then stops: each variant runs alone, started for its
    # measurement and stopped after it. On PostgreSQL a second generated server left running would be a second
    # instance, whose feed reads the outbox after every notification of the measured one's commits.
    start_server "seed-$backend" env BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" "$GEN"
    local seed_pid=$SERVER_PID gen="http://127.0.0.1:$PORT"
    local admin user token room
    admin=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$(cat /proc/sys/kernel/random/uuid)" --role admin)
    user=$(curl -sf -X POST "$gen/api/users" -H 'Content-Type: application/json' -H "Authorization: Bearer $admin" \
        -d '{"email":"bench@example.com","name":"Bench","passwordHash":"x"}' | sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p')
    [[ -n $user ]] || die "seeding: creating the user failed"
    token=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$user")
    room=$(curl -sf -X POST "$gen/api/rooms" -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
        -d '{"title":"writes"}' | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
    [[ -n $room ]] || die "seeding: creating the room failed"
    stop_server "$seed_pid"
    cat >"$WORK/create.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"roomId":$room,"text":"a benchmark message of some forty characters"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
EOF
    # start_variant <variant>: starts its server alone (SERVER_PID) and sets TARGET to the URL to write to.
    start_variant() {
        case $1 in
        gen) start_server "gen-$backend" env BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" "$GEN" ;;
        pertx) start_server "pertx-$backend" env BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" \
            WRITE_BATCH_MAX=1 "$GEN" ;;
        plain) start_server "base-$backend" env BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" \
            AUTHOR_ID="$user" "$BASE" ;;
        esac
        TARGET="http://127.0.0.1:$PORT/api/messages"
        if [[ $1 == plain ]]; then TARGET="$TARGET/plain"; fi
    }
    local round writers variant order line rps quiet
    # Warm-up: each variant once, briefly.
    local saved=$DURATION
    DURATION=2
    for variant in gen pertx plain; do
        start_variant "$variant"
        measure "$SERVER_PID" "$TARGET" "warmup-$backend-$variant" 16 >/dev/null
        stop_server "$SERVER_PID"
    done
    DURATION=$saved
    for ((round = 1; round <= ROUNDS; round++)); do
        wait_quiet
        order="gen pertx plain"
        if ((round % 2 == 0)); then order="plain pertx gen"; fi
        for writers in $WRITERS; do
            for variant in $order; do
                start_variant "$variant"
                # A second of writes first, so that the pool's connections and statements are ready.
                DURATION=1 measure "$SERVER_PID" "$TARGET" "start-$backend-$writers-$variant-$round" "$writers" >/dev/null
                DATABASE_URL=$url "$BASE" reset "$room" >>"$LOG" 2>&1 || die "reset failed (see $LOG)"
                line=$(measure "$SERVER_PID" "$TARGET" "$backend-$writers-$variant-$round" "$writers")
                stop_server "$SERVER_PID"
                read -r rps quiet <<<"$line"
                printf '%s\n' "$backend$T$writers$T$variant$T$round$T$rps$T$(cut -d' ' -f1 /proc/loadavg)$T$quiet" >>"$RESULTS"
                log "$backend round $round, $writers writers, $variant: $rps creates/s ($quiet)"
            done
        done
    done
    cleanup
}

log "machine: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $NCPU CPUs, $(uname -r)"
log "repo: $(git -C "$ROOT" rev-parse --short HEAD); wrk -d${DURATION}s, writers: $WRITERS, $ROUNDS rounds"
for backend in $BACKENDS; do
    run_backend "$backend"
done
summary "$RESULTS" | tee -a "$LOG"
