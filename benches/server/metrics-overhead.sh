#!/bin/bash
# Overhead of METRICS_ADDR on GET /api/rooms/{id} (public): the release chat server on SQLite, wrk -t2 -c64, three
# rounds alternating metrics off and on; req/s and server CPU per request (docs/operations.md, "Overhead").
set -u
BIN=${BIN:?set BIN to a release build of the chat example (examples/chat: cargo build --release)}
D=$(mktemp -d)
PORT=18087
DUR=${DUR:-5}
run_server() { # $1: metrics on/off
  if [ "$1" = on ]; then M="METRICS_ADDR=127.0.0.1:19187"; else M="NOTHING=1"; fi
  env DATABASE_URL=sqlite://$D/chat.db JWT_SECRET=s BIND_ADDR=127.0.0.1:$PORT RUST_LOG=warn $M $BIN > $D/out 2>$D/err &
  PID=$!
  for i in $(seq 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done
}
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
run_server off
ADMIN=$(JWT_SECRET=s $BIN token --sub 00000000-0000-4000-8000-000000000001 --role admin)
UID_=$(curl -s -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"email":"a@b.c","name":"a","passwordHash":"x"}' http://127.0.0.1:$PORT/api/users | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
TOK=$(JWT_SECRET=s $BIN token --sub $UID_)
curl -s -H "Authorization: Bearer $TOK" -H 'content-type: application/json' -d '{"title":"r"}' http://127.0.0.1:$PORT/api/rooms >/dev/null
curl -s http://127.0.0.1:$PORT/api/rooms/1 | head -c 100; echo
kill $PID; wait $PID 2>/dev/null
TICK=$(getconf CLK_TCK)
for r in 1 2 3; do for v in off on; do
  run_server $v
  wrk -t2 -c64 -d1s http://127.0.0.1:$PORT/api/rooms/1 >/dev/null
  c0=$(cpu)
  RPS=$(wrk -t2 -c64 -d${DUR}s http://127.0.0.1:$PORT/api/rooms/1 | awk '/Requests\/sec/ {print $2}')
  c1=$(cpu)
  N=$(awk -v r=$RPS -v d=$DUR 'BEGIN{print r*d}')
  US=$(awk -v a=$c0 -v b=$c1 -v t=$TICK -v n=$N 'BEGIN{printf "%.1f", (b-a)/t/n*1e6}')
  echo -e "round $r\tmetrics $v\t$RPS req/s\t$US us CPU/request"
  if [ $v = on ]; then curl -s http://127.0.0.1:19187/metrics | grep 'http_requests_total{' | head -2; fi
  kill $PID; wait $PID 2>/dev/null
done; done
rm -rf $D
