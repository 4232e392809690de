#!/usr/bin/env bash
# usage: BEFORE_DIR=D1 AFTER_DIR=D2 [BENCH=micro-bench] compare_redis.sh OUTDIR "1 8 32" REPS DUR
# redis-benchmark against micro-bench with two builds of micro-redis.so, in turn,
# on one private redis-server; raw lines in OUTDIR/results, the table from
# `python3 tools/bench/store/summarize.py OUTDIR/results`. BEFORE_DIR and AFTER_DIR
# must be absolute (the manifests are written into OUTDIR).
set -u
OUT=$1; CS=${2:-"1 8 32"}; REPS=${3:-3}; DUR=${4:-3}
mkdir -p "$OUT"
BENCH=${BENCH:-micro-bench}
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
W=$(mktemp -d)
redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no --dir $W --logfile $W/log &
RPID=$!
trap 'kill $RPID; wait $RPID; rm -rf $W' EXIT
sleep 0.5
echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $OUT/log
for c in $CS; do
  for side in before after; do
    so=${BEFORE_DIR:?directory of the .so files to compare against}/micro-redis.so; [ $side = after ] && so=${AFTER_DIR:?directory of the .so files measured}/micro-redis.so
    printf '[store]\nplugin = "%s"\ndriver = "redis"\nurl = "redis://127.0.0.1:%s/0"\npool_size = %s\n' $so $PORT $c > $OUT/m-$side-$c.toml
  done
  for op in read write; do
    for r in $(seq $REPS); do
      for side in before after; do
        line=$(timeout 60 $BENCH store --manifest $OUT/m-$side-$c.toml --op $op --value-size 100 --concurrency $c --duration $DUR 2>&1 | tail -1)
        echo "micro $side op=$op c=$c $line" | tee -a $OUT/results
      done
      t=get; [ $op = write ] && t=set
      n=$(( c == 1 ? 60000 : 120000 ))
      line=$(redis-benchmark -p $PORT -t $t -d 100 -c $c -n $n -q 2>&1 | tr '\r' '\n' | grep -i "requests per second" | tail -1)
      echo "raw op=$op c=$c $line" | tee -a $OUT/results
    done
  done
done
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $OUT/log
