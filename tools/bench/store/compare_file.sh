#!/usr/bin/env bash
# usage: BEFORE_DIR=D1 AFTER_DIR=D2 [BENCH=micro-bench] [RAWSQLITE=rawsqlite] compare_file.sh OUTDIR "1 8" REPS DUR
# plain SQLite (rawsqlite.cpp: g++ -O2 -std=c++20 rawsqlite.cpp -lsqlite3 -lpthread)
# against micro-bench with two builds of micro-sqlite.so; raw lines in OUTDIR/results.
set -u
OUT=$1; CS=${2:-"1 8"}; REPS=${3:-3}; DUR=${4:-3}
mkdir -p $OUT
BENCH=${BENCH:-micro-bench}
echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $OUT/log
for c in $CS; do
  for op in read write; do
    for r in $(seq $REPS); do
      for side in before after; do
        so=${BEFORE_DIR:?directory of the .so files to compare against}/micro-sqlite.so; [ $side = after ] && so=${AFTER_DIR:?directory of the .so files measured}/micro-sqlite.so
        D=$(mktemp -d)
        printf '[store]\nplugin = "%s"\ndriver = "file"\ndir = "%s"\n' $so $D > $OUT/m.toml
        line=$(timeout 120 $BENCH store --manifest $OUT/m.toml --op $op --value-size 100 --concurrency $c --duration $DUR 2>&1 | tail -1)
        echo "micro $side op=$op c=$c $line" | tee -a $OUT/results
        rm -rf $D
      done
      D=$(mktemp -d)
      line=$(${RAWSQLITE:-rawsqlite} $D/raw.db $op 100 $c $DUR)
      echo "raw op=$op c=$c $line" | tee -a $OUT/results
      rm -rf $D
    done
  done
done
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $OUT/log
