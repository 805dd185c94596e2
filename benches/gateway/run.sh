#!/usr/bin/env bash
# WebSocket fan-out of the generated chat server (schemas/examples/chat.yaml) against a minimal hand-written axum
# broadcast server (benches/gateway/src/bin/gwbase.rs), measured in the same run: one writer POSTing rooms, N
# connections subscribed to `Room:list`. See the `## Gateway` section of docs/benchmarks.md for the method and the
# last figures.
#
#   benches/gateway/run.sh                     # from anywhere; needs curl
#   ROUNDS=1 SIZES="1000:20" benches/gateway/run.sh
#   benches/gateway/run.sh --summary /tmp/ssot-gateway-bench.XXXXXX/results.tsv   # the summary of an earlier run
#   BACKEND=postgres INSTANCES="1 2" ROUNDS=1 SIZES="1000:20" benches/gateway/run.sh   # scale-out on PostgreSQL
#   BACKEND=postgres INSTANCES=2 SAT_SECS=0 SIZES="10:200 10:400 10:800" benches/gateway/run.sh   # a rate sweep
#
# Per round, size and server (the order of the servers alternating between rounds), a fresh server process, then
# one gwload process (src/bin/gwload.rs) that: opens N connections (Authorization header, `ready`, subscribe,
# `subscribed`) and reads the server's RSS before and after (memory per idle connection); writes at a fixed rate
# and measures latency from the POST to each receipt (same process, same clock); then saturates (writes as fast as
# a window of writes not yet received everywhere allows) and counts deliveries per second and the server's CPU
# time per delivery, and the latency of every SAT_SAMPLE-th write sent then. CPU times: utime + stime from
# /proc/<pid>/stat of the server and of gwload; what the other processes used, from /proc/stat (user time), so
# that noisy rounds can be told and discarded.
#
# Knobs (environment): ROUNDS (3) rounds; SIZES ("1000:20 10000:5") connections:writes per second of the latency
# phase; LATENCY_SECS (15) of fixed-rate writes; SAT_SECS (10) of saturation measured after SAT_WARMUP (2);
# WINDOW (32) writes in flight at saturation; WRITERS (4) concurrent writers at saturation; LOAD_THREADS (1)
# threads of gwload; OTHERS_MAX (0.25) cores used by other processes during the latency or saturation phase above
# which the run is flagged noisy (not kept); MAX_EXTRA (2) rounds allowed beyond ROUNDS to replace noisy ones;
# QUIET_WAIT (120) seconds to wait at most before a round for others to go quiet; GEN_ENV ("") extra environment
# for the generated server (e.g. "WS_SEND_QUEUE=2048"), BASE_ENV ("") for the baseline; GEN_BIN (unset) a
# generated server binary built earlier, used instead of generating and building one; WORK (a fresh temp
# folder) for the generated crate, databases, logs and results.tsv; SAT_SAMPLE (10): the saturation phase's
# latency is measured on the writes whose Event-Seq is a multiple of it (SAT_SECS=0 skips the phase).
#
# BACKEND=postgres (default sqlite): the generated server only (the baseline has no database and no way to fan out
# across processes), on a fresh PostgreSQL database per run (PG_URL, default postgres://postgres@127.0.0.1:5432;
# created and dropped with psql); INSTANCES ("1") lists instance counts, each run as a variant `genK` in every
# round: K processes on the one database, gwload's connections spread over them (connection i to instance i mod K)
# and its writes round-robin; CPU and RSS summed over the instances, and the CPU of the database's backends (`db`)
# counted apart from the others. Builds go to CARGO_TARGET_DIR (default
# <repo>/target/bench-gateway).
#
# Every loop is bounded: fixed counts; gwload's phases have fixed durations and each of its waits a deadline.
# Servers listen on 127.0.0.1 only, on ports the OS picks.
set -euo pipefail
# shellcheck source=../common/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

# ---- summary --------------------------------------------------------------------------------------------------
# summary <results.tsv>: per size (connections:rate) and variant, medians over kept rounds (over all rounds,
# marked *, when none was kept), and per size the ratio of server CPU per delivery of each variant to the
# reference (`base` when it ran, else the first variant: `gen1` on PostgreSQL), median of the per-round ratios.
summary() {
    awk -F'\t' "$AWK_MEDIAN"'
        function add(key, value) { if (value != "-" && value != "") vals[key] = vals[key] " " value }
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        {
            size = $col["conns"] ":" $col["lat_rate"]; var = $col["variant"]; kept = $col["kept"] == "KEPT"
            k = size SUBSEP var
            if (!(size in seen)) { seen[size] = 1; sizes[++ns] = size }
            if (!(var in vseen)) { vseen[var] = 1; vars[++nv] = var }
            n_all[k]++; if (kept) n_kept[k]++
            split("kib_per_conn connected lat_rate lat_achieved_rate lat_p50_ms lat_p99_ms lat_max_ms lat_load_cores lat_server_cores lat_db_cores lat_others_cores sat_deliveries_per_s sat_writes_per_s sat_server_us_per_delivery sat_db_us_per_delivery sat_load_us_per_delivery sat_server_cores sat_load_cores sat_others_cores sat_lat_p50_ms sat_lat_p99_ms missing", f, " ")
            for (j in f) { if (!(f[j] in col)) continue; add(k SUBSEP f[j] SUBSEP "all", $col[f[j]]); if (kept) add(k SUBSEP f[j] SUBSEP "kept", $col[f[j]]) }
            us[k SUBSEP $col["round"]] = $col["sat_server_us_per_delivery"]; rk[k SUBSEP $col["round"]] = kept
            if ($col["closes"] != "none") closes[k] = closes[k] " r" $col["round"] ":" $col["closes"]
        }
        function others(k,    a, b) { a = m(k, "lat_others_cores"); b = m(k, "sat_others_cores"); return b < 0 ? a : (a + b) / 2 }
        function m(k, field,    v) { v = median(vals[k SUBSEP field SUBSEP (n_kept[k] ? "kept" : "all")]); return v == "-" ? -1 : v }
        END {
            ref = ("base" in vseen) ? "base" : vars[1]
            printf "%-11s %-5s %5s %6s %7s %7s %7s %6s %8s %7s %7s %7s %6s %6s %6s %6s %6s %5s\n", "conns:rate", "srv",
                "held", "KiB/c", "done/s", "p50 ms", "p99 ms", "load", "deliv/s", "s p50", "s p99", "srv us", "db us",
                "srv c", "db c", "load c", "others", "kept"
            for (i = 1; i <= ns; i++) for (v = 1; v <= nv; v++) {
                k = sizes[i] SUBSEP vars[v]
                if (!n_all[k]) continue
                printf "%-11s %-5s %5d %6.2f %7.1f %7.2f %7.2f %6.2f %8.0f %7.2f %7.2f %7.2f %6.2f %6.2f %6.2f %6.2f %6.2f %3d/%d%s\n",
                    sizes[i], vars[v], m(k, "connected"), m(k, "kib_per_conn"), m(k, "lat_achieved_rate"),
                    m(k, "lat_p50_ms"), m(k, "lat_p99_ms"), m(k, "lat_load_cores"), m(k, "sat_deliveries_per_s"),
                    m(k, "sat_lat_p50_ms"), m(k, "sat_lat_p99_ms"), m(k, "sat_server_us_per_delivery"),
                    m(k, "sat_db_us_per_delivery"), m(k, "sat_server_cores"), m(k, "lat_db_cores"),
                    m(k, "sat_load_cores"), others(k),
                    n_kept[k] + 0, n_all[k], n_kept[k] ? "" : " *"
            }
            print ""
            for (i = 1; i <= ns; i++) for (v = 1; v <= nv; v++) {
                if (vars[v] == ref) continue
                per = ""; perk = ""
                for (key in us) {
                    split(key, f, SUBSEP)
                    r0 = sizes[i] SUBSEP ref SUBSEP f[3]
                    if (f[1] == sizes[i] && f[2] == vars[v] && (r0 in us) && us[r0] > 0 && us[key] != "-") {
                        r = us[key] / us[r0]
                        per = per " " r
                        if (rk[key] && rk[r0]) perk = perk " " r
                    }
                }
                if (per == "") continue
                printf "%s: server CPU per delivery, %s / %s: %s (median of per-round ratios, kept rounds), %s (all rounds)\n",
                    sizes[i], vars[v], ref, perk == "" ? "-" : sprintf("%.2f", median(perk)), sprintf("%.2f", median(per))
            }
            for (k in closes) { split(k, f, SUBSEP); printf "closed by the server (%s, %s):%s\n", f[1], f[2], closes[k] }
        }' "$1"
    echo
    echo "held: connections subscribed (median). KiB/c: server RSS delta per idle connection. done/s: writes answered"
    echo "per second in the latency phase (below the rate when the servers fall behind). p50, p99: latency from the"
    echo "POST to each receipt at that write rate; load: cores gwload used then. deliv/s: updates delivered per second"
    echo "at saturation; s p50, s p99: latency then (sampled writes). srv us, db us: CPU microseconds per delivery of"
    echo "the server(s) and the database's backends at saturation; srv c: server cores at saturation; db c: database"
    echo "cores in the latency phase; load c: gwload's cores at saturation. others: cores used by other processes (mean"
    echo "of the two phases' medians). -1: not measured. Medians over kept rounds (* = none kept: all rounds, noisy)."
    echo "All runs: $1"
}
if [[ ${1:-} == --summary ]]; then
    summary "${2:?usage: run.sh --summary <results.tsv>}"
    exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-"1000:20 10000:5"}
LATENCY_SECS=${LATENCY_SECS:-15}
SAT_SECS=${SAT_SECS:-10}
SAT_WARMUP=${SAT_WARMUP:-2}
WINDOW=${WINDOW:-32}
WRITERS=${WRITERS:-4}
LOAD_THREADS=${LOAD_THREADS:-1}
OTHERS_MAX=${OTHERS_MAX:-0.25}
MAX_EXTRA=${MAX_EXTRA:-2}
QUIET_WAIT=${QUIET_WAIT:-120}
GEN_ENV=${GEN_ENV:-}
BASE_ENV=${BASE_ENV:-}
SAT_SAMPLE=${SAT_SAMPLE:-10}
BACKEND=${BACKEND:-sqlite}
INSTANCES=${INSTANCES:-1}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
case $BACKEND in
sqlite) VARIANTS="gen base" ;;
postgres)
    VARIANTS=
    for k in $INSTANCES; do VARIANTS+="gen$k "; done
    ;;
*) echo "BACKEND=$BACKEND: sqlite or postgres" >&2; exit 1 ;;
esac
WORK=${WORK:-$(mktemp -d /tmp/ssot-gateway-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench-gateway}
# Line tables, for perf; the code is the same.
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
export RUST_BACKTRACE=0
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
LOG=$WORK/run.log
T=$'\t'

QUIET_NOTE="runs with others above ${OTHERS_MAX} cores are flagged noisy"

command -v curl >/dev/null || die "curl is missing"
if [[ $BACKEND == postgres ]]; then
    command -v psql >/dev/null || die "psql is missing"
    psql "$PG_URL/postgres" -qtAc 'select 1' >/dev/null || die "PostgreSQL at $PG_URL does not answer"
fi
[[ $(getconf CLK_TCK) == 100 ]] || die "gwload assumes 100 clock ticks per second, this system has $(getconf CLK_TCK)"

# ---- limits: file descriptors and source ports for the largest size -------------------------------------------
MAX_CONNS=0
for size in $SIZES; do
    n=${size%%:*}
    if ((n > MAX_CONNS)); then MAX_CONNS=$n; fi
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
((MAX_CONNS + 200 <= $(ulimit -n))) ||
    die "open files limit $(ulimit -n) is too low for $MAX_CONNS connections (each process holds one end)"
read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range
# One source port per connection to the same server address (distinct 4-tuples); TIME_WAIT stays on gwload's side
# only for connections it closes first, and every server gets a new port, so earlier runs do not use them up.
((PORT_HI - PORT_LO + 1 >= MAX_CONNS + 100)) ||
    die "ephemeral port range $PORT_LO-$PORT_HI is too small for $MAX_CONNS connections from one address"

# ---- cleanup: only what this script started -------------------------------------------------------------------
PIDS=()
DBS=()
drop_db() {
    psql "$PG_URL/postgres" -qtAc "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 || log "dropping $1 failed"
}
# Transactions committed in a database so far (pg_stat_database; a backend reports its counts at most once a
# second, and about a second after going idle: callers wait 2 s before the second reading).
db_commits() {
    psql "$PG_URL/postgres" -qtAc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$1'" 2>/dev/null || echo 0
}
cleanup() {
    local pid db
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    for db in "${DBS[@]}"; do drop_db "$db"; done
    DBS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build ----------------------------------------------------------------------------------------------------
log "work folder: $WORK; builds in $CARGO_TARGET_DIR"
# Before the build: the generator embeds the templates as they are now.
log "repo: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- templates src || echo ' (templates or src modified)')"
if [[ -n ${GEN_BIN:-} ]]; then
    # A generated server built earlier (e.g. from other templates, for a before/after comparison).
    [[ -x $GEN_BIN ]] || die "GEN_BIN=$GEN_BIN is not an executable"
    log "generated server: $GEN_BIN (GEN_BIN, not built here)"
else
    log "generating the chat crate"
    (cd "$ROOT" && cargo run --release -q -- generate schemas/examples/chat.yaml -o "$WORK/chat") >>"$LOG" 2>&1 ||
        die "generating failed (see $LOG)"
    log "building the generated server"
    (cd "$WORK/chat" && cargo build --release -q) >>"$LOG" 2>&1 || die "building the generated crate failed (see $LOG)"
fi
log "building gwload and gwbase"
cargo build --release -q --manifest-path "$ROOT/benches/gateway/Cargo.toml" >>"$LOG" 2>&1 ||
    die "building benches/gateway failed (see $LOG)"
GEN=${GEN_BIN:-$CARGO_TARGET_DIR/release/chat-api}
BASE=$CARGO_TARGET_DIR/release/gwbase
LOAD=$CARGO_TARGET_DIR/release/gwload
versions() {
    awk '/^name = /{n=$3} /^version = /{v=$3; gsub(/"/,"",n); gsub(/"/,"",v);
         if (n ~ /^(axum|hyper|tokio|tungstenite|tokio-tungstenite|serde_json)$/) printf "%s %s, ", n, v}' "$1"
}
if [[ -z ${GEN_BIN:-} ]]; then log "generated crate: $(versions "$WORK/chat/Cargo.lock")"; fi
log "benches/gateway: $(versions "$ROOT/benches/gateway/Cargo.lock")"

# ---- quiet ----------------------------------------------------------------------------------------------------
busiest() { # the five processes with the most CPU time over 2 s, outside this script
    local a b
    a=$(awk '{c=$2; for (i=3; i<=NF && c !~ /\)$/; i++) c=c"_"$i; sub(/^.*\) /, ""); split($0, f, " "); print FILENAME, c, f[12]+f[13]}' /proc/[0-9]*/stat 2>/dev/null)
    sleep 2
    b=$(awk '{c=$2; for (i=3; i<=NF && c !~ /\)$/; i++) c=c"_"$i; sub(/^.*\) /, ""); split($0, f, " "); print FILENAME, c, f[12]+f[13]}' /proc/[0-9]*/stat 2>/dev/null)
    awk 'NR == FNR {t[$1] = $3; next} ($1 in t) && $3 - t[$1] > 0 {printf "%s %d%%\n", $2, $3 - t[$1]}' <(echo "$a") <(echo "$b") |
        sort -t' ' -k2 -rn | head -5 | tr '\n' ';'
}

# ---- servers --------------------------------------------------------------------------------------------------
PORT=
SERVER_PID=
stop_server() { # pid; logs its total CPU and final RSS from /proc first
    local pid=$1 ticks rss
    ticks=$(awk '{sub(/^.*\) /, ""); split($0, f, " "); print f[12] + f[13]}' "/proc/$pid/stat" 2>/dev/null || echo "?")
    rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status" 2>/dev/null || echo "?")
    log "  server $pid: $ticks ticks of CPU in all, RSS $rss KiB at the end"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local kept=()
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    PIDS=("${kept[@]}")
}

SECRET="bench-secret-$RANDOM$RANDOM"
FIELDS="label instances conns connected connect_s rss0_kib rss1_kib kib_per_conn idle_server_cores lat_rate lat_writes lat_write_errors lat_expected lat_received lat_p50_ms lat_p99_ms lat_max_ms lat_drain_s lat_server_cores lat_load_cores lat_others_cores sat_deliveries_per_s sat_writes_per_s sat_server_cores sat_load_cores sat_others_cores sat_server_us_per_delivery sat_load_us_per_delivery sat_sample sat_lat_writes sat_lat_received sat_lat_p50_ms sat_lat_p99_ms sat_lat_max_ms lat_achieved_rate lat_db_cores lat_server_us_per_delivery sat_db_cores sat_db_us_per_delivery db_commits live_at_end write_errors closes"
{
    printf 'round\tvariant\tkept\tload1'
    for f in $FIELDS; do printf '\t%s' "$f"; done
    printf '\tmissing\n'
} >"$RESULTS"

# run_one <round> <variant> <conns> <rate>: one server, one gwload; appends a row; returns 1 if noisy.
run_one() {
    local round=$1 variant=$2 conns=$3 rate=$4 token=x name="$2-$3-$4-r$1" url
    local pids=() ws=() http=() db=
    if [[ $variant == gen[0-9]* ]]; then
        local k=${variant#gen} i admin user
        db=ssot_gw_$$_$RANDOM
        psql "$PG_URL/postgres" -qtAc "CREATE DATABASE \"$db\"" >/dev/null || die "creating database $db failed"
        DBS+=("$db")
        url="$PG_URL/$db"
        # One after another: the first applies the migrations.
        for ((i = 1; i <= k; i++)); do
            # shellcheck disable=SC2086
            start_server "$name-i$i" env $GEN_ENV BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" "$GEN"
            pids+=("$SERVER_PID"); ws+=("ws://127.0.0.1:$PORT/ws"); http+=("127.0.0.1:$PORT")
        done
        PORT=${http[0]#*:}
        admin=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$(cat /proc/sys/kernel/random/uuid)" --role admin)
        user=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/users" -H 'Content-Type: application/json' \
            -H "Authorization: Bearer $admin" -d '{"email":"bench@example.com","name":"Bench","passwordHash":"x"}' |
            sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p')
        [[ -n $user ]] || die "creating the user failed"
        token=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$user")
    elif [[ $variant == gen ]]; then
        rm -f "$WORK/chat.db"*
        url="sqlite://$WORK/chat.db"
        # shellcheck disable=SC2086
        start_server "$name" env $GEN_ENV BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" "$GEN"
        local admin user
        admin=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$(cat /proc/sys/kernel/random/uuid)" --role admin)
        user=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/users" -H 'Content-Type: application/json' \
            -H "Authorization: Bearer $admin" -d '{"email":"bench@example.com","name":"Bench","passwordHash":"x"}' |
            sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p')
        [[ -n $user ]] || die "creating the user failed"
        # Not an admin: rooms are public-read, so every subscriber gets every room event with the plain rule.
        token=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$user")
    else
        # shellcheck disable=SC2086
        start_server "$name" env $BASE_ENV BIND_ADDR=127.0.0.1:0 "$BASE"
    fi
    if [[ $variant == gen || $variant == base ]]; then
        pids=("$SERVER_PID"); ws=("ws://127.0.0.1:$PORT/ws"); http=("127.0.0.1:$PORT")
    fi
    local out line pid commits0=
    out=$WORK/$name.load
    if [[ -n $db ]]; then commits0=$(db_commits "$db"); fi
    local IFS_=$IFS
    IFS=,
    "$LOAD" --ws "${ws[*]}" --http "${http[*]}" --token "$token" --server-pid "${pids[*]}" --db-name "$db" \
        --conns "$conns" --rate "$rate" --latency-secs "$LATENCY_SECS" --sat-secs "$SAT_SECS" --sat-warmup "$SAT_WARMUP" \
        --sat-sample "$SAT_SAMPLE" --window "$WINDOW" --writers "$WRITERS" --threads "$LOAD_THREADS" --label "$name" \
        >"$out" 2>"$out.err" || { IFS=$IFS_; die "gwload failed on $name: $(tail -5 "$out.err")"; }
    IFS=$IFS_
    grep -v '^\[' "$out.err" | head -5 | while read -r l; do log "  gwload: $l"; done
    local commits=-
    if [[ -n $db ]]; then
        sleep 2
        commits=$(($(db_commits "$db") - commits0))
    fi
    for pid in "${pids[@]}"; do stop_server "$pid"; done
    if [[ -n $db ]]; then
        drop_db "$db"
        local keep=() d
        for d in "${DBS[@]}"; do [[ $d == "$db" ]] || keep+=("$d"); done
        DBS=("${keep[@]}")
    fi
    line=$(sed -n 's/^RESULT //p' "$out")
    [[ -n $line ]] || die "no RESULT from gwload on $name"
    declare -A r=()
    local kv
    for kv in $line; do r[${kv%%=*}]=${kv#*=}; done
    r[db_commits]=$commits
    local missing=$((${r[lat_expected]:-0} - ${r[lat_received]:-0}))
    local noisy=0
    if awk -v a="${r[lat_others_cores]:-9}" -v b="${r[sat_others_cores]:-0}" -v m="$OTHERS_MAX" 'BEGIN{exit !(a > m || b > m)}'; then noisy=1; fi
    local row="$round$T$variant$T$( ((noisy)) && echo noisy || echo KEPT)$T$(cut -d' ' -f1 /proc/loadavg)"
    for f in $FIELDS; do row+="$T${r[$f]:--}"; done
    printf '%s\t%s\n' "$row" "$missing" >>"$RESULTS"
    log "  $name: held ${r[connected]}/$conns, ${r[kib_per_conn]} KiB/conn; ${rate}/s: p50 ${r[lat_p50_ms]} ms, p99 ${r[lat_p99_ms]} ms, ${r[lat_achieved_rate]}/s done, drain ${r[lat_drain_s]} s ($missing missing; cores server ${r[lat_server_cores]}, db ${r[lat_db_cores]}, gwload ${r[lat_load_cores]}, others ${r[lat_others_cores]}); saturation ${r[sat_deliveries_per_s]:--}/s, p50 ${r[sat_lat_p50_ms]:--} ms, p99 ${r[sat_lat_p99_ms]:--} ms, server ${r[sat_server_us_per_delivery]:--} us/delivery (cores server ${r[sat_server_cores]:--}, db ${r[sat_db_cores]:--}, gwload ${r[sat_load_cores]:--}, others ${r[sat_others_cores]:--}); database commits during gwload's run $commits; closes ${r[closes]}$( ((noisy)) && echo '; NOISY')"
    return "$noisy"
}

log "machine: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $NCPU CPUs, $(uname -r); open files $(ulimit -n); ports $PORT_LO-$PORT_HI"
log "sizes (connections:writes/s) $SIZES; ${LATENCY_SECS}s latency, ${SAT_SECS}s saturation (window $WINDOW, $WRITERS writers, latency of every ${SAT_SAMPLE}th write); $ROUNDS rounds; $BACKEND: $VARIANTS; GEN_ENV '$GEN_ENV'"
declare -A kept=()
for ((round = 1; round <= ROUNDS + MAX_EXTRA; round++)); do
    pending=0
    for size in $SIZES; do
        if ((${kept[$size]:-0} < ROUNDS)); then pending=1; fi
    done
    ((pending)) || break
    wait_quiet
    log "round $round: uptime: $(uptime)"
    for size in $SIZES; do
        ((${kept[$size]:-0} < ROUNDS)) || continue
        order=$VARIANTS
        if ((round % 2 == 0)); then order=$(echo "$VARIANTS" | tr ' ' '\n' | tac | tr '\n' ' '); fi
        ok=1
        for variant in $order; do
            run_one "$round" "$variant" "${size%%:*}" "${size#*:}" || ok=0
        done
        if ((ok)); then kept[$size]=$((${kept[$size]:-0} + 1)); else log "round $round $size: noisy (others above $OTHERS_MAX cores)"; fi
    done
done
for size in $SIZES; do
    if ((${kept[$size]:-0} < ROUNDS)); then log "WARNING: $size: only ${kept[$size]:-0} quiet rounds"; fi
done
summary "$RESULTS" | tee -a "$LOG"
