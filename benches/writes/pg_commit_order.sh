#!/usr/bin/env bash
# What it costs PostgreSQL to commit in order: transactions like a batch of the generated server's group commit (six
# rows inserted into an outbox-like table), run by pgbench with C concurrent clients, four ways:
#   plain        BEGIN; INSERT 6 rows; COMMIT                     (commits free to overlap their WAL flushes)
#   notify_in    ... pg_notify inside the transaction             (as the outbox trigger does)
#   lock_in      ... the insert under pg_advisory_xact_lock       (as the outbox insert does: held to the commit)
#   notify_after ... pg_notify in a statement of its own after the COMMIT
# A NOTIFY in a transaction takes a cluster-wide lock at pre-commit, held through the commit's WAL flush, so that
# notifications queue in commit order; the advisory lock is held to the commit too. Either serializes the commits
# (and their flushes), which a plain insert per request does not pay. See `## Writes` in docs/benchmarks.md.
#
#   benches/writes/pg_commit_order.sh            # needs pgbench and psql; C=8 T=4 ROUNDS=3
set -euo pipefail
C=${C:-8}
T=${T:-4}
ROUNDS=${ROUNDS:-3}
PG=${PG:-"-h 127.0.0.1 -U postgres"}
PGBENCH=${PGBENCH:-$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)}
[[ -x $PGBENCH ]] || { echo "pgbench is missing (Debian: postgresql-contrib, or postgresql's bin folder)" >&2; exit 1; }
DB="ssot_commit_order_$(date +%s)_$$"
WORK=$(mktemp -d /tmp/ssot-commit-order.XXXXXX)
# shellcheck disable=SC2086
cleanup() { psql $PG -d test -q -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# shellcheck disable=SC2086
psql $PG -d test -q -c "CREATE DATABASE \"$DB\"" >/dev/null
# shellcheck disable=SC2086
psql $PG -d "$DB" -q -c 'CREATE TABLE ev (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, model TEXT NOT NULL,
    record_id TEXT NOT NULL, kind TEXT NOT NULL, data JSONB NOT NULL, owner TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()); CREATE INDEX ON ev (created_at)'
insert='INSERT INTO ev (model, record_id, kind, data) SELECT $$Message$$, $$x$$, $$created$$, $${"text": "a benchmark message of some forty characters"}$$ FROM generate_series(1, 6);'
locked='WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock(42)) INSERT INTO ev (model, record_id, kind, data) SELECT $$Message$$, $$x$$, $$created$$, $${"text": "a benchmark message of some forty characters"}$$ FROM l, generate_series(1, 6);'
notify='SELECT pg_notify($$ssot_events$$, $$1$$);'
printf 'BEGIN;\n%s\nCOMMIT;\n' "$insert" >"$WORK/plain.sql"
printf 'BEGIN;\n%s\n%s\nCOMMIT;\n' "$insert" "$notify" >"$WORK/notify_in.sql"
printf 'BEGIN;\n%s\nCOMMIT;\n' "$locked" >"$WORK/lock_in.sql"
printf 'BEGIN;\n%s\nCOMMIT;\n%s\n' "$insert" "$notify" >"$WORK/notify_after.sql"
printf 'variant\tround\ttps\n' >"$WORK/results.tsv"
for ((round = 1; round <= ROUNDS; round++)); do
    for variant in plain notify_in lock_in notify_after; do
        # shellcheck disable=SC2086
        tps=$("$PGBENCH" $PG -n -c "$C" -j 2 -T "$T" -M prepared -f "$WORK/$variant.sql" "$DB" 2>&1 |
            awk '/^tps/{print $3}')
        printf '%s\t%s\t%s\n' "$variant" "$round" "$tps" >>"$WORK/results.tsv"
    done
done
awk -F'\t' 'NR > 1 { v[$1] = v[$1] " " $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
    END {
        printf "%-13s %10s  %s\n", "variant", "median tps", "rounds"
        for (i = 1; i <= n; i++) {
            k = split(v[order[i]], x, " "); asort(x, x, "@val_num_asc")
            m = k % 2 ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2
            if (i == 1) base = m
            printf "%-13s %10.0f  %s  (%.2fx plain)\n", order[i], m, v[order[i]], m / base
        }
    }' "$WORK/results.tsv"
echo "C=$C clients, T=${T}s per run; raw: $WORK/results.tsv"
