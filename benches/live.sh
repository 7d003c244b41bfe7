#!/usr/bin/env bash
# Live-capture benchmark (issue 4): the highest tcpreplay rate at which
# `phonehome live` shows zero loss on a veth pair, for 1 and 2 workers and
# both backends, next to `tcpdump -i IFACE -w /dev/null` at the same rates,
# in one session. Needs root, tcpreplay, tcpdump, libpcap-dev. Only ever
# sends into a veth pair inside a network namespace it creates.
#
#   benches/live.sh [SIZE]        # default 50M of generated traffic
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-50M}
NS=phbench$$
DATA=bench-data
mkdir -p "$DATA"
PCAP=$DATA/bulk-$SIZE-seed7.pcap
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT

cargo build --release --features pcap -q
BIN=target/release/phonehome
[ -f "$PCAP" ] || target/release/phonehome-gen bulk --size "$SIZE" --seed 7 --out "$PCAP" --truth "$PCAP.truth.json"
FRAMES=$(tcpdump -r "$PCAP" -nn 2>/dev/null | wc -l)

ip netns add "$NS"
ip netns exec "$NS" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS" ip link add ph-in type veth peer name ph-cap
ip netns exec "$NS" ip link set ph-in mtu 9000 up
ip netns exec "$NS" ip link set ph-cap mtu 9000 up

# replay RATE -> prints "sent pps mbps"
replay() {
    local args
    if [ "$1" = top ]; then args=(--topspeed); else args=(--mbps "$1"); fi
    ip netns exec "$NS" tcpreplay -i ph-in "${args[@]}" "$PCAP" 2>/dev/null |
        awk '/Successful packets:/ {s=$3} /Rated:/ {for (i=1;i<=NF;i++) {if ($i ~ /pps/) p=$(i-1); if ($i ~ /Mbps/) m=$(i-1)}} END {print s, p, m}'
}

# one phonehome run: prints "lost"
run_phonehome() { # backend workers rate
    local stats=$DATA/live-stats.json
    rm -f "$stats"
    ip netns exec "$NS" "$BIN" live -i ph-cap --backend "$1" --workers "$2" --status-interval 0 \
        --stats "$stats" 2>/dev/null &
    local pid=$!
    sleep 1.5
    read -r sent pps mbps < <(replay "$3")
    sleep 1
    kill -TERM "$pid"; wait "$pid" || true
    python3 - "$stats" "$sent" "$pps" "$mbps" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
kdrops = s["capture"]["kernel_drops"] + s["unread_at_exit"]
qdrops = s["queue"]["output_events_dropped"]
sent = int(sys.argv[2]); seen = s["stages"]["decode"]["packets"]
print(sent, sys.argv[3], sys.argv[4], seen, kdrops, qdrops, max(sent - seen, 0))
PY
}

run_tcpdump() { # rate
    local log=$DATA/tcpdump.log
    ip netns exec "$NS" tcpdump -i ph-cap -w /dev/null -nn 2>"$log" &
    local pid=$!
    sleep 1.5
    read -r sent pps mbps < <(replay "$1")
    sleep 1
    kill -INT "$pid"; wait "$pid" || true
    local got drop
    got=$(awk '/packets captured/ {print $1}' "$log")
    drop=$(awk '/dropped by kernel/ {print $1}' "$log")
    echo "$sent $pps $mbps $got $drop - $(( sent > got ? sent - got : 0 ))"
}

RATES=(200 500 1000 2000 4000 top)
echo "# live capture on a veth pair, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"
echo "# capture: $PCAP ($FRAMES frames); rate in Mbit/s asked of tcpreplay; 'top' = --topspeed"
echo "# seen: frames processed; kdrops: kernel drops + unread at exit; qdrops: events the"
echo "# output queue refused; missing: sent - seen (must equal kdrops)"
printf '%-22s %6s %10s %10s %10s %10s %8s %8s %8s\n' tool rate sent pps Mbps seen kdrops qdrops missing
for cfg in "af-packet 1" "af-packet 2" "pcap 1" "pcap 2"; do
    set -- $cfg
    for r in "${RATES[@]}"; do
        read -r sent pps mbps seen kd qd missing < <(run_phonehome "$1" "$2" "$r")
        printf '%-22s %6s %10s %10s %10s %10s %8s %8s %8s\n' "phonehome $1 w$2" "$r" "$sent" "$pps" "$mbps" "$seen" "$kd" "$qd" "$missing"
    done
done
for r in "${RATES[@]}"; do
    read -r sent pps mbps seen kd qd missing < <(run_tcpdump "$r")
    printf '%-22s %6s %10s %10s %10s %10s %8s %8s %8s\n' "tcpdump" "$r" "$sent" "$pps" "$mbps" "$seen" "$kd" "$qd" "$missing"
done
