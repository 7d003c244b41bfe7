#!/usr/bin/env bash
# Compare phonehome with the tools our users know, on one generated capture
# in the page cache, in one session.
#
#   benches/compare.sh                 # 2 GB capture, 100 MB slice, 3 runs each
#   SIZE=1G RUNS=5 benches/compare.sh  # other sizes / more runs
#   BUILD=0 benches/compare.sh         # reuse target/release binaries
#
# What it does:
#  1. installs missing tools with apt-get when run as root (tcpdump,
#     libndpi-bin for ndpiReader, tshark, time for /usr/bin/time -v);
#  2. builds phonehome and phonehome-gen in release mode;
#  3. generates, once, bench-data/bulk-$SIZE-seed1.pcap and the slice
#     bench-data/bulk-$SLICE-seed1.pcap, each with its ground-truth JSON
#     (bench-data/ is git-ignored; the generator streams deterministically,
#     so the slice is byte for byte the first $SLICE of the big file);
#  4. reads both into the page cache (twice) and checks they stay there;
#  5. runs every command $RUNS times, interleaved round by round so that
#     background noise spreads over all of them, measuring wall time
#     (date +%s%N around the command), CPU time (user + sys) and peak RSS
#     (/usr/bin/time -v); on a shared machine CPU time is the steadier
#     number, wall time what a user waits;
#  6. prints a table of medians: wall, packets/s, GB/s, ratio to cat,
#     peak RSS, and the names found against the ground truth.
#
# tshark is too slow for the big file: it runs on the slice, doing the same
# job as phonehome (print every DNS query name, TLS SNI and HTTP Host), and
# its wall time is scaled to the big file's size for the ratio column.
# ndpiReader runs quietly (-q, stdout discarded); it classifies flows and
# reports no names, so its names column is empty.
#
# The machine may be shared: trust medians and ratios within one run of
# this script, not absolute numbers across runs.

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZE=${SIZE:-2G}
SLICE=${SLICE:-100M}
RUNS=${RUNS:-3}
WORKERS_N=${WORKERS_N:-2}
DATA=${DATA:-$ROOT/bench-data}
BIG=$DATA/bulk-$SIZE-seed1.pcap
SMALL=$DATA/bulk-$SLICE-seed1.pcap
OUT=$(mktemp -d "${TMPDIR:-/tmp}/phonehome-compare.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ndpiReader >/dev/null || need+=(libndpi-bin)
command -v tshark >/dev/null || need+=(tshark)
[ -x /usr/bin/time ] || need+=(time)
command -v jq >/dev/null || need+=(jq)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        log "missing tools: ${need[*]} (run as root to install them with apt-get)"
        exit 1
    fi
fi

# ---------------------------------------------------------------- build
# BUILD=0 reuses the binaries already in target/release (e.g. while the
# working tree does not build).
if [ "${BUILD:-1}" != 0 ]; then
    log "building (release)"
    cargo build --release --quiet --bin phonehome --bin phonehome-gen
fi
PH=$ROOT/target/release/phonehome
GEN=$ROOT/target/release/phonehome-gen

# ---------------------------------------------------------------- data
mkdir -p "$DATA"
gen() { # size file
    local size=$1 file=$2
    if [ ! -s "$file" ] || [ ! -s "${file%.pcap}.truth.json" ]; then
        log "generating $file ($size)"
        "$GEN" bulk --size "$size" --seed 1 --out "$file.tmp" --truth "${file%.pcap}.truth.json" >&2
        mv "$file.tmp" "$file"
    fi
}
gen "$SIZE" "$BIG"
gen "$SLICE" "$SMALL"

big_bytes=$(stat -c %s "$BIG")
small_bytes=$(stat -c %s "$SMALL")
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
if [ $((avail_kb * 1024)) -lt $((big_bytes + small_bytes + (1 << 30))) ]; then
    log "warning: MemAvailable ${avail_kb} kB may not hold both files in the page cache"
fi
log "warming the page cache"
for _ in 1 2; do cat "$BIG" "$SMALL" >/dev/null; done
cached() { fincore --bytes --noheadings --output RES "$1" 2>/dev/null || echo "?"; }
log "cached: $(cached "$BIG") of $big_bytes bytes; $(cached "$SMALL") of $small_bytes bytes"

# ---------------------------------------------------------------- runs
# Each command: a name, the file it reads, and the command line. STATS in
# a command is replaced by a per-run --stats path; NAMES by a names file.
declare -a NAMES_ CMDS_ FILES_
add() { NAMES_+=("$1"); FILES_+=("$2"); CMDS_+=("$3"); }
add "cat" "$BIG" "cat '$BIG'"
add "phonehome --workers 1" "$BIG" "'$PH' read '$BIG' --workers 1 --no-progress --stats STATS"
add "phonehome --workers $WORKERS_N" "$BIG" "'$PH' read '$BIG' --workers $WORKERS_N --no-progress --stats STATS"
add "tcpdump -r -w /dev/null" "$BIG" "tcpdump -r '$BIG' -w /dev/null"
add "ndpiReader -q -i" "$BIG" "ndpiReader -q -i '$BIG'"
add "cat ($SLICE)" "$SMALL" "cat '$SMALL'"
add "phonehome --workers 1 ($SLICE)" "$SMALL" "'$PH' read '$SMALL' --workers 1 --no-progress --stats STATS"
add "phonehome --workers $WORKERS_N ($SLICE)" "$SMALL" "'$PH' read '$SMALL' --workers $WORKERS_N --no-progress --stats STATS"
add "tshark names ($SLICE)" "$SMALL" "tshark -n -r '$SMALL' -Y 'dns.flags.response == 0 || tls.handshake.type == 1 || http.request' -T fields -e dns.qry.name -e tls.handshake.extensions_server_name -e http.host -E occurrence=f > NAMES"

printf 'cmd\trun\twall_s\tcpu_s\trss_kb\tstats\tnames\n' >"$OUT/runs.tsv"
for ((r = 1; r <= RUNS; r++)); do
    for i in "${!NAMES_[@]}"; do
        name=${NAMES_[$i]}
        stats=$OUT/stats-$i-$r.json
        names=$OUT/names-$i-$r.txt
        cmd=${CMDS_[$i]//STATS/$stats}
        cmd=${cmd//NAMES/$names}
        # Output goes to /dev/null except where the command writes a file
        # itself (tshark's names): the wrapper's own stdout is discarded.
        t0=$(date +%s%N)
        /usr/bin/time -v -o "$OUT/time.txt" bash -c "$cmd" >/dev/null 2>"$OUT/err.txt" || {
            log "FAILED: $name"; cat "$OUT/err.txt" >&2; exit 1; }
        t1=$(date +%s%N)
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/time.txt")
        cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$OUT/time.txt")
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')
        [ -f "$stats" ] || stats=-
        [ -f "$names" ] || names=-
        printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$name" "$r" "$wall" "$cpu" "$rss" "$stats" "$names" >>"$OUT/runs.tsv"
        log "run $r/$RUNS  $(printf '%-34s' "$name") ${wall}s wall  ${cpu}s cpu  ${rss} kB"
    done
done

# ---------------------------------------------------------------- table
python3 - "$OUT/runs.tsv" "$BIG" "$SMALL" "$SIZE" "$SLICE" <<'PY'
import csv, json, os, statistics, sys
runs_tsv, big, small, size, slice_ = sys.argv[1:6]
truth = {}
for f in (big, small):
    with open(f[:-len(".pcap")] + ".truth.json") as fh:
        truth[f] = json.load(fh)
rows = {}
order = []
with open(runs_tsv) as fh:
    for r in csv.DictReader(fh, delimiter="\t"):
        if r["cmd"] not in rows:
            rows[r["cmd"]] = []
            order.append(r["cmd"])
        rows[r["cmd"]].append(r)

def file_of(cmd):
    return small if cmd.endswith(f"({slice_})") else big

def names_of(r, t):
    c = t["counts"]
    want = (c["names"], c["alerts"])
    if r["stats"] != "-":
        s = json.load(open(r["stats"]))["stages"]
        got = sum(s["extract"]["names"].values())
        alerts = s["match"]["alerts"]
        ok = "=" if (got, alerts) == want else "≠"
        return f"{got} names, {alerts} alerts {ok} truth {want[0]}/{want[1]}"
    if r["names"] != "-":
        got = 0
        for line in open(r["names"], errors="replace"):
            got += any(x.strip() for x in line.rstrip("\n").split("\t"))
        ok = "=" if got == want[0] else "≠"
        return f"{got} names {ok} truth {want[0]}"
    return ""

cat_big = statistics.median(float(r["wall_s"]) for r in rows["cat"])
big_bytes = os.path.getsize(big)
print(f"| command | file | wall median (s) | runs (s) | CPU user+sys median (s) | packets/s | GB/s | × cat (per byte) | peak RSS (MB) | names found vs truth |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|---|")
for cmd in order:
    rs = rows[cmd]
    f = file_of(cmd)
    t = truth[f]
    walls = [float(r["wall_s"]) for r in rs]
    wall = statistics.median(walls)
    cpu = statistics.median(float(r["cpu_s"]) for r in rs)
    nbytes = os.path.getsize(f)
    pkts = t["pcap"]["packets"]
    # Time for the big file at this rate (the slice's rows are scaled).
    scaled = wall * big_bytes / nbytes
    rss = max(int(r["rss_kb"]) for r in rs) / 1024
    label = os.path.basename(f)
    runs = " ".join(f"{w:.3f}" for w in walls)
    print(f"| `{cmd}` | {label} | {wall:.3f} | {runs} | {cpu:.2f} | {pkts / wall / 1e6:.2f} M | "
          f"{nbytes / wall / 1e9:.2f} | {scaled / cat_big:.2f} | {rss:.1f} | {names_of(rs[-1], t)} |")
PY
