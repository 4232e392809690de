#!/usr/bin/env python3
# summarize.py OUTDIR/results: the best run of each side per op and C, and the
# ratios against the raw baseline, as a Markdown table.
import re,sys,collections
best=collections.defaultdict(lambda: None)
lat={}
for line in open(sys.argv[1]):
    m=re.match(r'micro (\w+) op=(\w+) c=(\d+) .*?ops=(\d+) p50_us=(\d+) p99_us=(\d+)',line)
    if m:
        side,op,c,ops,p50,p99=m.groups(); k=(op,int(c),side); v=float(ops)
        if best[k] is None or v>best[k]: best[k]=v; lat[k]=(p50,p99)
        continue
    m=re.match(r'raw op=(\w+) c=(\d+) .*?(?:requests per second|tps = |ops=)',line)
    if m:
        op,c=m.groups()
        r=re.search(r'([\d.]+) requests per second',line) or re.search(r'tps = ([\d.]+)',line) or re.search(r'ops=(\d+)',line)
        v=float(r.group(1)); k=(op,int(c),'raw')
        p=re.search(r'p50=([\d.]+) msec',line) or re.search(r'latency average = ([\d.]+) ms',line)
        if best[k] is None or v>best[k]: best[k]=v; lat[k]=(str(int(float(p.group(1))*1000)) if p else '-', '-')
print("| op | C | before ops/s | after ops/s | after p50/p99 us | raw ops/s | before/raw | after/raw |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for op in ['read','write']:
    for c in sorted({k[1] for k in best if k[0]==op}):
        b=best[(op,c,'before')]; a=best[(op,c,'after')]; r=best[(op,c,'raw')]
        f=lambda x: '-' if x is None else f"{x:,.0f}".replace(',', ' ')
        rat=lambda x: '-' if (x is None or not r) else f"{x/r:.2f}"
        la=lat.get((op,c,'after'),('-','-'))
        print(f"| {op} | {c} | {f(b)} | {f(a)} | {la[0]} / {la[1]} | {f(r)} | {rat(b)} | {rat(a)} |")
