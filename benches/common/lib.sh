# Shared by the benchmark scripts (benches/server/run.sh, benches/gateway/run.sh); sourced, not run, first thing.
# The functions expect, when they run: LOG (the run's log file), WORK (a scratch folder), PIDS (an array of our
# processes), QUIET_WAIT (seconds), OTHERS_MAX; optionally `busiest` (names the busiest other processes) and
# QUIET_NOTE (what happens to runs while others are busy).

NCPU=$(nproc)

log() { echo "[$(date +%T)] $*" | tee -a "$LOG" >&2; }
die() { log "error: $*"; exit 1; }

# An awk function for the summaries: the median of a space-separated list of numbers ("-" for none).
AWK_MEDIAN='
    function median(list,    v, k, m) {
        k = split(list, v, " "); if (!k) return "-"
        asort(v, v, "@val_num_asc"); m = int((k + 1) / 2)
        return k % 2 ? v[m] : (v[m] + v[m + 1]) / 2
    }'

# CPU ticks of the whole machine: busy, total.
cpu_busy_total() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# Cores used by everything over 2 s (no server of ours works then).
idle_load() {
    local b0 t0 b1 t1
    read -r b0 t0 < <(cpu_busy_total)
    sleep 2
    read -r b1 t1 < <(cpu_busy_total)
    awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v n="$NCPU" 'BEGIN{printf "%.2f", t ? b / t * n : 0}'
}

# Waits (up to QUIET_WAIT seconds, one look at least) for other processes to go quiet before a round.
wait_quiet() {
    local tries=$((QUIET_WAIT > 2 ? QUIET_WAIT / 2 : 1)) i load who=
    for ((i = 0; i < tries; i++)); do
        load=$(idle_load)
        if awk -v l="$load" 'BEGIN{exit !(l < 0.3)}'; then return 0; fi
        if ((i == 0)); then
            if declare -F busiest >/dev/null; then who=" ($(busiest))"; fi
            log "others use $load cores while idle$who; waiting up to ${QUIET_WAIT}s"
        fi
    done
    log "still busy ($load cores); going on, ${QUIET_NOTE:-runs with others above $OTHERS_MAX cores are flagged}"
}

# start_server <name> <command...>: starts a server that prints `listening on http://127.0.0.1:<port>`; sets
# SERVER_PID and PORT.
start_server() {
    local name=$1 i
    shift
    : >"$WORK/$name.out"
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    PORT=
    for ((i = 0; i < 300; i++)); do
        PORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\)$#\1#p' "$WORK/$name.out")
        if [[ -n $PORT ]]; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited: $(tail -5 "$WORK/$name.err")"
        sleep 0.1
    done
    die "$name did not start in 30 s"
}
