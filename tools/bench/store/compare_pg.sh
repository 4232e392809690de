#!/usr/bin/env bash
# usage: BEFORE_DIR=D1 AFTER_DIR=D2 [BENCH=micro-bench] compare_pg.sh OUTDIR "1 8 32" REPS DUR
# pgbench against micro-bench with two builds of micro-postgres.so, in turn, on
# one private PostgreSQL 15 (run as root: initdb runs as user postgres).
# OPS, SIDES and KEYS narrow a run. Raw lines in OUTDIR/results (summarize.py).
set -u
OUT=$1; CS=${2:-"1 8 32"}; REPS=${3:-3}; DUR=${4:-3}; OPS=${OPS:-"read write"}
mkdir -p "$OUT"
BENCH=${BENCH:-micro-bench}
PG=/usr/lib/postgresql/15/bin
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
W=$(mktemp -d); chmod 755 $W; mkdir $W/pg; chown postgres: $W/pg; chmod 700 $W/pg
(cd / && runuser -u postgres -- $PG/initdb -D $W/pg -U postgres --auth=trust -E UTF8 --no-sync >/dev/null)
(cd / && runuser -u postgres -- $PG/pg_ctl -D $W/pg -l $W/pg/log -w -o "-p $PORT -k $W/pg -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null)
trap '(cd / && runuser -u postgres -- $PG/pg_ctl -D $W/pg -m fast stop >/dev/null); rm -rf $W' EXIT
PSQL="psql -h 127.0.0.1 -p $PORT -U postgres -q"
$PSQL -c "CREATE TABLE bench_raw(k bytea primary key, v bytea)" -c "INSERT INTO bench_raw SELECT convert_to(lpad(g::text,16,'0'),'SQL_ASCII'), convert_to(repeat('x',100),'SQL_ASCII') FROM generate_series(0,3999) g"
cat > $W/read.sql <<'S'
\set n random(0, 3999)
SELECT v FROM bench_raw WHERE k = convert_to(lpad(:n::text,16,'0'),'SQL_ASCII');
S
cat > $W/write.sql <<'S'
\set n random(0, 3999)
INSERT INTO bench_raw VALUES (convert_to(lpad(:n::text,16,'0'),'SQL_ASCII'), convert_to(repeat('y',100),'SQL_ASCII')) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
S
echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $OUT/log
for c in $CS; do
  for side in before after; do
    so=${BEFORE_DIR:?directory of the .so files to compare against}/micro-postgres.so; [ $side = after ] && so=${AFTER_DIR:?directory of the .so files measured}/micro-postgres.so
    printf '[store]\nplugin = "%s"\ndriver = "postgres"\nurl = "postgresql://postgres@127.0.0.1:%s/postgres"\npool_size = %s\n' $so $PORT $c > $OUT/m-$side-$c.toml
  done
  j=$(( c < 2 ? 1 : 2 ))
  for op in $OPS; do
    for r in $(seq $REPS); do
      for side in ${SIDES:-before after}; do
        line=$(timeout 240 $BENCH store --manifest $OUT/m-$side-$c.toml --op $op --value-size 100 --concurrency $c --duration $DUR --keys ${KEYS:-200} 2>&1 | tail -3 | tr "\n" " ")
        echo "micro $side op=$op c=$c $line" | tee -a $OUT/results
      done
      line=$(cd $W && pgbench -h 127.0.0.1 -p $PORT -U postgres -n -M prepared -f $W/$op.sql -c $c -j $j -T $DUR postgres 2>&1 | grep -E "^tps|latency average" | tr '\n' ' ')
      echo "raw op=$op c=$c $line" | tee -a $OUT/results
    done
  done
done
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $OUT/log
