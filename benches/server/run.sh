#!/usr/bin/env bash
# Requests per second of the generated chat server (schemas/examples/chat.yaml) against hand-written axum
# handlers doing the same queries (benches/server/baseline), measured in the same run, on SQLite and PostgreSQL.
# See the `## Server` section of docs/benchmarks.md for the method and the last figures.
#
#   benches/server/run.sh                       # from anywhere; needs wrk, curl, psql (apt-get install -y wrk)
#   ROUNDS=3 DURATION=5 BACKENDS=sqlite benches/server/run.sh
#   benches/server/run.sh --summary /tmp/ssot-server-bench.XXXXXX/results.tsv   # the summary of an earlier run
#
# Knobs (environment): ROUNDS (5) kept rounds per endpoint; DURATION (10) seconds per wrk run; THREADS (2) and
# CONNECTIONS (64) of wrk; WARMUP (3) seconds per variant before the rounds; MESSAGES (1000) and ROOMS (10) to
# seed; BACKENDS ("sqlite postgres"); ENDPOINTS ("get list include room create"); OTHERS_MAX (0.15) cores used by other processes during a run above which
# the round is discarded; MAX_EXTRA (3) rounds allowed beyond ROUNDS to replace discarded ones; QUIET_WAIT (120)
# seconds to wait at most before a round for other processes to go quiet; PG ("-h 127.0.0.1 -U postgres -d
# test") psql connection for creating and dropping the scratch database; PG_URL_BASE
# (postgres://postgres@127.0.0.1:5432); WORK (a fresh temp folder) for the generated crate, databases, logs and
# results.tsv. Builds go to CARGO_TARGET_DIR (default <repo>/target/bench-server).
#
# Every loop is bounded: fixed counts, each wrk run has a fixed duration, each wait a fixed number of tries.
# Servers listen on 127.0.0.1 only, on ports the OS picks.
set -euo pipefail
# shellcheck source=../common/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

# ---- summary --------------------------------------------------------------------------------------------------
# summary <results.tsv>: medians over kept rounds (req/s, CPU), the ratio of the medians, and the median of the
# per-round ratios (generated and baseline measured back to back in the same round).
summary() {
    awk -F'\t' "$AWK_MEDIAN"'
        function ratio(a, b) { return (a == "-" || b == "-" || !b) ? "-" : sprintf("%.2f", a / b) }
        NR == 1 || $5 != "KEPT" { next }
        {
            k = $1 SUBSEP $2 SUBSEP $3
            rps[k] = rps[k] " " $7; wrk[$1 SUBSEP $2] = wrk[$1 SUBSEP $2] " " $8
            us[k] = us[k] " " ($9 / $7 * 1e6); oth[$1 SUBSEP $2] = oth[$1 SUBSEP $2] " " $11
            round[$1 SUBSEP $2 SUBSEP $3 SUBSEP $4] = $7; n[k]++
            if (!($1 in seen_b)) { seen_b[$1] = 1; backends[++nb] = $1 }
        }
        END {
            printf "%-8s %-7s %9s %9s %9s %6s %8s %6s %5s %5s %8s %8s %8s %6s\n", "backend", "endpoint", "generated",
                "baseline", "base+jwt", "g/b", "g/b rnd", "g/jwt", "kept", "wrk", "gen us", "base us", "jwt us", "others"
            split("get list include room create", eps, " ")
            for (i = 1; i <= nb; i++) for (j = 1; j <= 5; j++) {
                b = backends[i]; e = eps[j]; be = b SUBSEP e
                g = median(rps[be SUBSEP "gen"]); bb = median(rps[be SUBSEP "base"]); jj = median(rps[be SUBSEP "jwt"])
                per = ""
                for (key in round) {
                    split(key, f, SUBSEP)
                    if (f[1] == b && f[2] == e && f[3] == "gen" && ((b SUBSEP e SUBSEP "base" SUBSEP f[4]) in round))
                        per = per " " round[key] / round[b SUBSEP e SUBSEP "base" SUBSEP f[4]]
                }
                pr = median(per)
                printf "%-8s %-7s %9s %9s %9s %6s %8s %6s %5s %5s %8s %8s %8s %6s\n", b, e,
                    g == "-" ? g : sprintf("%.0f", g), bb == "-" ? bb : sprintf("%.0f", bb), jj == "-" ? jj : sprintf("%.0f", jj),
                    ratio(g, bb), pr == "-" ? pr : sprintf("%.2f", pr), ratio(g, jj), n[be SUBSEP "gen"] + 0,
                    sprintf("%.2f", median(wrk[be])), sprintf("%.1f", median(us[be SUBSEP "gen"])),
                    sprintf("%.1f", median(us[be SUBSEP "base"])),
                    us[be SUBSEP "jwt"] == "" ? "-" : sprintf("%.1f", median(us[be SUBSEP "jwt"])), sprintf("%.2f", median(oth[be]))
            }
            # include: the generated list with its authors and rooms, against the same list without them.
            print ""
            for (i = 1; i <= nb; i++) {
                b = backends[i]; per = ""
                for (key in round) {
                    split(key, f, SUBSEP)
                    if (f[1] == b && f[2] == "include" && f[3] == "gen" && ((b SUBSEP "list" SUBSEP "gen" SUBSEP f[4]) in round))
                        per = per " " round[key] / round[b SUBSEP "list" SUBSEP "gen" SUBSEP f[4]]
                }
                g = median(rps[b SUBSEP "include" SUBSEP "gen"]); l = median(rps[b SUBSEP "list" SUBSEP "gen"])
                n_ = median(rps[b SUBSEP "include" SUBSEP "base"]); pr = median(per)
                printf "%-8s include/list (generated): %s (per round %s); naive per-row include/list: %s\n", b,
                    ratio(g, l), pr == "-" ? pr : sprintf("%.2f", pr), ratio(n_, l)
            }
        }' "$1"
    echo
    echo "req/s: medians over kept rounds. base+jwt: the baseline verifying the same JWT. g/b: ratio of the medians;"
    echo "g/b rnd: median of the per-round ratios. wrk: cores used by the load generator (median). us: server CPU"
    echo "per request in microseconds (median). others: cores used by other processes (median)."
    echo "room: GET /api/rooms/{id}, public on the generated server (no token). include: the list with"
    echo "include=author,room; its baseline reads them the naive way, two queries per row. All runs: $1"
}
if [[ ${1:-} == --summary ]]; then # --summary <results.tsv>: only the summary of an earlier run
    summary "${2:?usage: run.sh --summary <results.tsv>}"
    exit 0
fi


ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-3}
MESSAGES=${MESSAGES:-1000}
ROOMS=${ROOMS:-10}
BACKENDS=${BACKENDS:-"sqlite postgres"}
OTHERS_MAX=${OTHERS_MAX:-0.15}
MAX_EXTRA=${MAX_EXTRA:-3}
QUIET_WAIT=${QUIET_WAIT:-120}
PG=${PG:-"-h 127.0.0.1 -U postgres -d test"}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
WORK=${WORK:-$(mktemp -d /tmp/ssot-server-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench-server}
# Line tables, for perf; the code is the same.
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
LOG=$WORK/run.log
T=$'\t'

QUIET_NOTE="runs with others' load above ${OTHERS_MAX} cores are discarded"


for tool in wrk curl awk; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install -y $tool)"
done
case " $BACKENDS " in *" postgres "*) command -v psql >/dev/null || die "psql is missing" ;; esac

# ---- cleanup: only what this script started -------------------------------------------------------------------
PIDS=()
PG_DB=
stop_servers() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_servers
    if [[ -n $PG_DB ]]; then
        # shellcheck disable=SC2086
        psql $PG -q -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
        log "dropped database $PG_DB"
        PG_DB=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build ----------------------------------------------------------------------------------------------------
log "work folder: $WORK; builds in $CARGO_TARGET_DIR"
log "generating the chat crate"
(cd "$ROOT" && cargo run --release -q -- generate schemas/examples/chat.yaml -o "$WORK/chat") >>"$LOG" 2>&1 ||
    die "generating failed (see $LOG)"
log "building the generated server"
(cd "$WORK/chat" && cargo build --release -q) >>"$LOG" 2>&1 || die "building the generated crate failed (see $LOG)"
log "building the baseline"
cargo build --release -q --manifest-path "$ROOT/benches/server/baseline/Cargo.toml" >>"$LOG" 2>&1 ||
    die "building the baseline failed (see $LOG)"
GEN=$CARGO_TARGET_DIR/release/chat-api
BASE=$CARGO_TARGET_DIR/release/baseline
versions() {
    awk '/^name = /{n=$3} /^version = /{v=$3; gsub(/"/,"",n); gsub(/"/,"",v);
         if (n ~ /^(axum|hyper|tokio|rusqlite|libsqlite3-sys|sqlx|sqlx-postgres|jsonwebtoken|serde_json)$/) printf "%s %s, ", n, v}' "$1"
}
log "generated crate: $(versions "$WORK/chat/Cargo.lock")"
log "baseline:        $(versions "$ROOT/benches/server/baseline/Cargo.lock")"

# ---- CPU accounting from /proc (clock ticks) ------------------------------------------------------------------
# "busy total": busy (user, nice, system, irq, softirq, steal) and all ticks of every CPU.
# User and nice ticks of every CPU. With the processes' own user times, this tells how much the others used:
# unlike system time (the softirq of loopback networking is often charged to the idle task), user time is always
# charged to the process that ran, including processes that ran and exited during a run.
cpu_user() { awk '/^cpu /{print $2+$3}' /proc/stat; }
# Every process: "pid comm utime stime cutime cstime ppid ours" (cutime and cstime: of its reaped children;
# ours: 1 for a PostgreSQL backend of the scratch database, told by its process title). comm's spaces become _.
all_ticks() {
    # getline, not awk's file list: a process that exits meanwhile must not end the listing.
    awk -v db="${PG_DB:-}" 'BEGIN {
        for (i = 1; i < ARGC; i++) {
            if ((getline line < ARGV[i]) > 0) {
                c = line; sub(/^[0-9]+ \(/, "", c); sub(/\) [^)]*$/, "", c); gsub(/ /, "_", c)
                r = line; sub(/^.*\) /, "", r); split(r, f, " "); split(line, p, " ")
                ours = 0
                if (c == "postgres" && db != "") {
                    title = ARGV[i]; sub(/stat$/, "cmdline", title)
                    if ((getline t < title) > 0 && index(t, " " db " ")) ours = 1
                    close(title)
                }
                print p[1], c, f[12], f[13], f[14], f[15], f[2], ours
            }
            close(ARGV[i])
        }
    }' /proc/[0-9]*/stat
}


# ---- servers --------------------------------------------------------------------------------------------------
PORT=
SERVER_PID=

# ---- one wrk run ----------------------------------------------------------------------------------------------
# measure <server pid> <label> <wrk args...>: prints "rps wrk_cores server_cores pg_cores others_cores": CPU
# use in cores (wall-clock average) of wrk, the server process, the PostgreSQL backends of the scratch database,
# and every other process (user time only, see cpu_user).
measure() {
    local pid=$1 label=$2
    shift 2
    local out=$WORK/wrk-$label.txt timef=$WORK/time-$label.txt
    local b0 t0 b1 t1 us0 us1 all0 all1 u s rps result
    all0=$(all_ticks)
    us0=$(cpu_user)
    read -r b0 t0 < <(cpu_busy_total)
    local TIMEFORMAT='%U %S'
    { time wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s "$@" >"$out" 2>&1; } 2>"$timef" ||
        die "wrk failed: $(cat "$out")"
    read -r b1 t1 < <(cpu_busy_total)
    us1=$(cpu_user)
    all1=$(all_ticks)
    if grep -q 'Non-2xx' "$out"; then die "$label: non-2xx answers: $(cat "$out")"; fi
    if grep -q 'Socket errors' "$out"; then log "$label: $(grep 'Socket errors' "$out")"; fi
    read -r u s <"$timef"
    rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
    [[ -n $rps ]] || die "$label: no Requests/sec in: $(cat "$out")"
    # PostgreSQL: the backends of the scratch database (by process title, before or after the run), and the
    # backends that exited during the run (wrk's end
    # cancels queries in flight, and sqlx then closes those connections): the postmaster's reaped-children time
    # less what they had used before the run. Others: user ticks of all CPUs less the user time of wrk, the
    # server and PostgreSQL. When they pass OTHERS_MAX, the busiest live processes outside this script's process
    # tree are named (own time and reaped children's, except for init's and the postmaster's).
    result=$(awk -v rps="$rps" -v u="$u" -v s="$s" -v dt=$((t1 - t0)) -v n="$NCPU" -v server="$pid" \
        -v dus=$((us1 - us0)) -v root=$$ -v max="$OTHERS_MAX" '
        NR == FNR {ut[$1] = $3; st[$1] = $4; kids[$1] = $5 + $6; cut[$1] = $5; cst[$1] = $6; if ($2 == "postgres") was_pg[$1] = 1; if ($8) ours[$1] = 1; next}
        {pid[FNR] = $1; comm[FNR] = $2; ut1[FNR] = $3; st1[FNR] = $4; cut1[FNR] = $5; cst1[FNR] = $6; kids1[FNR] = $5 + $6
         parent[$1] = $7; alive[$1] = 1; pcomm[$1] = $2; if ($8) ours[$1] = 1; rows = FNR}
        END {
            for (p in was_pg) if (!(p in alive)) { pg_u -= ut[p]; pg_s -= st[p] }
            for (i = 1; i <= rows; i++)
                if (comm[i] == "postgres" && pcomm[parent[pid[i]]] != "postgres") {
                    pg_u += cut1[i] - cut[pid[i]]; pg_s += cst1[i] - cst[pid[i]]
                }
            mine[root] = 1
            for (changed = 1; changed;) {
                changed = 0
                for (p in parent) if (!(p in mine) && (parent[p] in mine)) { mine[p] = 1; changed = 1 }
            }
            for (i = 1; i <= rows; i++) {
                p = pid[i]; du = ut1[i] - ut[p]; ds = st1[i] - st[p]; dk = kids1[i] - kids[p]
                if (comm[i] == "postgres" || p == 1) dk = 0
                if (p == server) { srv_u += du; srv_s += ds }
                else if (p in ours) { pg_u += du; pg_s += ds }
                else if (!(p in mine) && du + ds + dk > 0) list[comm[i] "(" p ")"] = du + ds + dk
            }
            hz = 100; elapsed = dt / n                       # ticks of wall time
            oth = dus - u * hz - srv_u - pg_u
            printf "%s %.2f %.2f %.2f %.2f", rps, (u + s) * hz / elapsed, (srv_u + srv_s) / elapsed,
                (pg_u + pg_s) / elapsed, oth / elapsed
            if (oth / elapsed > max) {
                printf " busiest others:"
                PROCINFO["sorted_in"] = "@val_num_desc"; k = 0
                for (p in list) if (k++ < 5) printf " %s %d ticks;", p, list[p]
            }
            print ""
        }' <(echo "$all0") <(echo "$all1"))
    if [[ $result == *busiest* ]]; then log "$label:${result#*busiest others:}"; fi
    echo "${result%% busiest*}"
}


# ---- one backend ----------------------------------------------------------------------------------------------
SECRET="bench-secret-$RANDOM$RANDOM"
printf 'backend\tendpoint\tvariant\tround\tkept\tload1\trps\twrk_cores\tserver_cores\tpg_cores\tothers_cores\n' >"$RESULTS"

run_backend() {
    local backend=$1 url
    if [[ $backend == sqlite ]]; then
        mkdir -p "$WORK/sqlite"
        rm -f "$WORK/sqlite/chat.db"*
        url="sqlite://$WORK/sqlite/chat.db"
    else
        PG_DB="ssot_bench_$(date +%s)_$$"
        # shellcheck disable=SC2086
        psql $PG -q -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || die "cannot create database $PG_DB"
        log "created database $PG_DB"
        url="$PG_URL_BASE/$PG_DB"
    fi

    # The generated server creates the schema (its migrations) and seeds it through its REST API.
    start_server "gen-$backend" env BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" "$GEN"
    local gen_pid=$SERVER_PID gen="http://127.0.0.1:$PORT"
    local admin user token
    admin=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$(cat /proc/sys/kernel/random/uuid)" --role admin)
    user=$(curl -sf -X POST "$gen/api/users" -H 'Content-Type: application/json' -H "Authorization: Bearer $admin" \
        -d '{"email":"bench@example.com","name":"Bench","passwordHash":"x"}' | sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p')
    [[ -n $user ]] || die "seeding: creating the user failed"
    token=$(JWT_SECRET=$SECRET DATABASE_URL=$url "$GEN" token --sub "$user")
    local rooms=() i room
    for ((i = 0; i <= ROOMS; i++)); do # ROOMS rooms of messages, and one more that receives the create runs
        room=$(curl -sf -X POST "$gen/api/rooms" -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
            -d "{\"title\":\"room $i\"}" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
        [[ -n $room ]] || die "seeding: creating room $i failed"
        rooms+=("$room")
    done
    local cfg=$WORK/seed-$backend.curl
    : >"$cfg"
    for ((i = 0; i < MESSAGES; i++)); do
        if ((i > 0)); then echo next >>"$cfg"; fi
        printf 'url = "%s/api/messages"\nfail\nheader = "Content-Type: application/json"\nheader = "Authorization: Bearer %s"\ndata = "{\\"roomId\\":%s,\\"text\\":\\"message %s, the seeded kind\\"}"\nwrite-out = "\\n"\n' \
            "$gen" "$token" "${rooms[$((i % ROOMS))]}" "$i" >>"$cfg"
    done
    local ids
    ids=$(curl -s -K "$cfg" | sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p')
    [[ $(wc -l <<<"$ids") -eq $MESSAGES ]] || die "seeding: expected $MESSAGES messages, got $(wc -l <<<"$ids")"
    local mid list_room=${rooms[0]} create_room=${rooms[$ROOMS]}
    mid=$(sed -n "$((MESSAGES / 2))p" <<<"$ids")
    if [[ $backend == postgres ]]; then
        # shellcheck disable=SC2086
        psql $PG -q -d "$PG_DB" -c "ANALYZE" >/dev/null
    fi
    log "$backend: seeded 1 user, $((ROOMS + 1)) rooms, $MESSAGES messages ($((MESSAGES / ROOMS)) per room); GET id $mid"

    start_server "base-$backend" env BIND_ADDR=127.0.0.1:0 DATABASE_URL="$url" JWT_SECRET="$SECRET" AUTHOR_ID="$user" "$BASE"
    local base_pid=$SERVER_PID base="http://127.0.0.1:$PORT"

    # The requests. Both servers get the same bytes (the baseline's /api routes ignore the token).
    local where orderby list_q
    where=$(printf '%%7B%%22roomId%%22%%3A%%7B%%22equals%%22%%3A%s%%7D%%7D' "$list_room") # {"roomId":{"equals":N}}
    orderby='%5B%7B%22createdAt%22%3A%22desc%22%7D%5D' # [{"createdAt":"desc"}]
    list_q="where=$where&orderBy=$orderby"
    local lua=$WORK/create-$backend.lua
    cat >"$lua" <<EOF
wrk.method = "POST"
wrk.body = '{"roomId":$create_room,"text":"a benchmark message of some forty characters"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
EOF

    # Same answers from both (a fairness check): byte-equal bodies.
    local path a b
    for path in "/api/messages/$mid" "/api/messages?$list_q" "/api/rooms/$list_room"; do
        a=$(curl -sf -H "Authorization: Bearer $token" "$gen$path") || die "generated server: GET $path failed"
        b=$(curl -sf -H "Authorization: Bearer $token" "$base$path") || die "baseline: GET $path failed"
        [[ $a == "$b" ]] || die "different answers to GET $path:
generated: $a
baseline:  $b"
        b=$(curl -sf -H "Authorization: Bearer $token" "$base/jwt$path") || die "baseline: GET /jwt$path failed"
        [[ $a == "$b" ]] || die "different answers to GET /jwt$path"
    done
    log "$backend: both servers give byte-equal answers to the three GETs"
    # The include: the same rows and relations from both (key order may differ: compared as JSON).
    path="/api/messages?$list_q&include=author%2Croom"
    a=$(curl -sf -H "Authorization: Bearer $token" "$gen$path") || die "generated server: GET $path failed"
    b=$(curl -sf -H "Authorization: Bearer $token" "$base$path") || die "baseline: GET $path failed"
    python3 -c 'import json, sys; a, b = (json.loads(x) for x in sys.argv[1:]); sys.exit(a != b or a["items"][0]["author"] is None)' "$a" "$b" ||
        die "different answers to GET $path:
generated: $a
baseline:  $b"
    log "$backend: both servers give the same answer to the include"

    reset_creates() {
        DATABASE_URL=$url "$BASE" reset "$create_room" >>"$LOG" 2>&1 || die "reset failed (see $LOG)"
    }

    # endpoint -> "variant base-url path|lua token?" ; room is the public route: no token for anyone.
    run_one() { # backend endpoint variant round kept? -> prints the measurement
        local endpoint=$1 variant=$2 label=$3 pid prefix="" url_base args=()
        case $variant in
        gen) pid=$gen_pid url_base=$gen ;;
        base) pid=$base_pid url_base=$base ;;
        jwt) pid=$base_pid url_base=$base prefix=/jwt ;;
        esac
        case $endpoint in
        get) args=(-H "Authorization: Bearer $token" "$url_base$prefix/api/messages/$mid") ;;
        list) args=(-H "Authorization: Bearer $token" "$url_base$prefix/api/messages?$list_q") ;;
        include) args=(-H "Authorization: Bearer $token" "$url_base$prefix/api/messages?$list_q&include=author%2Croom") ;;
        room) args=("$url_base$prefix/api/rooms/$list_room") ;;
        create) args=(-s "$lua" "$url_base$prefix/api/messages") ;;
        esac
        measure "$pid" "$label" "${args[@]}"
        if [[ $endpoint == create ]]; then reset_creates; fi
    }
    variants_of() { case $1 in room | include) echo "gen base" ;; *) echo "gen base jwt" ;; esac; }

    local endpoints=${ENDPOINTS:-"get list include room create"} endpoint variant
    log "$backend: warm-up, ${WARMUP}s per endpoint and variant"
    local saved=$DURATION
    DURATION=$WARMUP
    for endpoint in $endpoints; do
        for variant in $(variants_of "$endpoint"); do
            run_one "$endpoint" "$variant" "warmup-$backend-$endpoint-$variant" >/dev/null
        done
    done
    DURATION=$saved

    # Rounds: each endpoint's variants back to back, the order alternating between rounds; a round in which other
    # processes used more than OTHERS_MAX cores during any of its runs is discarded and replaced (at most MAX_EXTRA).
    declare -A kept=()
    local round load1 line rps wrk_c srv_c pg_c oth_c ok lines
    for ((round = 1; round <= ROUNDS + MAX_EXTRA; round++)); do
        local pending=0
        for endpoint in $endpoints; do
            if ((${kept[$endpoint]:-0} < ROUNDS)); then pending=1; fi
        done
        if ((!pending)); then break; fi
        wait_quiet
        load1=$(cut -d' ' -f1 /proc/loadavg)
        log "$backend round $round: uptime: $(uptime)"
        for endpoint in $endpoints; do
            if ((${kept[$endpoint]:-0} >= ROUNDS)); then continue; fi
            local order
            order=$(variants_of "$endpoint")
            if ((round % 2 == 0)); then order=$(tr ' ' '\n' <<<"$order" | tac | tr '\n' ' '); fi
            ok=1
            lines=""
            for variant in $order; do
                line=$(run_one "$endpoint" "$variant" "$backend-$endpoint-$variant-$round")
                read -r rps wrk_c srv_c pg_c oth_c <<<"$line"
                if awk -v o="$oth_c" -v m="$OTHERS_MAX" 'BEGIN{exit !(o > m)}'; then ok=0; fi
                lines+="$backend$T$endpoint$T$variant$T$round${T}KEPT$T$load1$T$rps$T$wrk_c$T$srv_c$T$pg_c$T$oth_c"$'\n'
                log "$backend round $round $endpoint $variant: $rps req/s; cores: wrk $wrk_c, server $srv_c, postgres $pg_c, others $oth_c"
            done
            if ((ok)); then
                kept[$endpoint]=$((${kept[$endpoint]:-0} + 1))
            else
                lines=${lines//${T}KEPT$T/${T}discarded$T}
                log "$backend round $round $endpoint: discarded (others above $OTHERS_MAX cores)"
            fi
            printf '%s' "$lines" >>"$RESULTS"
        done
    done
    for endpoint in $endpoints; do
        if ((${kept[$endpoint]:-0} < ROUNDS)); then log "WARNING: $backend $endpoint: only ${kept[$endpoint]:-0} kept rounds"; fi
    done
    stop_servers
    if [[ $backend == postgres ]]; then
        # shellcheck disable=SC2086
        psql $PG -q -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
        log "dropped database $PG_DB"
        PG_DB=
    fi
}

log "machine: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $NCPU CPUs, $(uname -r)"
log "repo: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- templates src || echo ' (templates or src modified)')"
log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS kept rounds per endpoint"
for backend in $BACKENDS; do
    run_backend "$backend"
done

summary "$RESULTS" | tee -a "$LOG"
