#!/usr/bin/env bash
# bench-shard.sh — three tocsin replicas in a cluster sharing many probes, with and without
# cluster.probe_replication, side by side in one run.
#
# Starts mosquitto (Debian: apt-get install mosquitto) on a free port of 127.0.0.1 as the probes'
# target, generates N TCP probes of its port (interval 10s unless INTERVAL is set; the default
# timeout, 5s or ¾ of a shorter interval) with the shipped liveness rule pack, then for each
# replication factor in REPLICATIONS starts three `bin/tocsin run` processes that gossip on
# 127.0.0.1, lets them settle, samples each replica's utime+stime (/proc/<pid>/stat) and VmRSS
# (/proc/<pid>/status), counts from each replica's /metrics on how many replicas every probe runs,
# and stops them. /proc/loadavg is printed with each round. Linux
# only. Everything it starts is stopped on exit.
#
#   examples/particle/bench-shard.sh                         # 10,000 probes; 0, 1 and 2; settle 40s, sample 60s
#   N=300 SETTLE=10 SAMPLE=20 REPLICATIONS="0 2" examples/particle/bench-shard.sh
set -euo pipefail

N=${N:-10000}
INTERVAL=${INTERVAL:-10s}
SETTLE=${SETTLE:-40}
SAMPLE=${SAMPLE:-60}
REPLICATIONS=${REPLICATIONS:-0 1 2}

cd "$(dirname "$0")/../.."
# shellcheck source=bench-lib.sh
. examples/particle/bench-lib.sh
command -v mosquitto >/dev/null || { echo "mosquitto is not installed" >&2; exit 1; }
[ -x bin/tocsin ] || make build >/dev/null

work=$(mktemp -d)
broker_pid=
pids=()
cleanup() {
	stop "${pids[@]}" "$broker_pid"
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mqtt_port=$(free_port)
start_mosquitto "$mqtt_port"
mkdir -p "$work/rules"
cp configs/rules/liveness.yml "$work/rules/"

for i in $(seq 1 "$N"); do
	echo "- {name: port-$i, interval: $INTERVAL, tcp: {address: '127.0.0.1:$mqtt_port'}}"
done >"$work/probes.yml"

# write_replica_config REPLICATION NAME FILE writes a replica's config: the same probes, rules and
# route for every replica, and its own name.
write_replica_config() {
	{
		cat <<CONF
global: {replica: $2}
storage: {retention: 1h}
cluster: {probe_replication: $1}
rule_files: ['$work/rules/*.yml']
evaluation_interval: 5s
probes:
CONF
		cat "$work/probes.yml"
		sink_route 'http://127.0.0.1:9/'
	} >"$3"
}

# runs_per_probe prints "k replicas: m probes" lines: on how many replicas each probe runs,
# from the probe_success series each replica exposes for the probes it runs.
runs_per_probe() {
	for port; do
		curl -fsS "http://127.0.0.1:$port/metrics" | grep -o '^probe_success{[^}]*probe="port-[0-9]*"' | grep -o 'port-[0-9]*'
	done | sort | uniq -c | awk '{print $1}' | sort -n | uniq -c | awk '{printf "  on %d replica(s): %d probes\n", $2, $1}'
}

for r in $REPLICATIONS; do
	gossip=() web=()
	for i in 1 2 3; do
		gossip+=("$(free_port)")
		web+=("$(free_port)")
	done
	pids=()
	for i in 0 1 2; do
		peers=()
		for j in 0 1 2; do
			[ "$i" = "$j" ] || peers+=("--cluster.peer=127.0.0.1:${gossip[$j]}")
		done
		mkdir -p "$work/r$r-$i"
		write_replica_config "$r" "bench-$((i + 1))" "$work/r$r-$i/tocsin.yml"
		bin/tocsin run --config.file="$work/r$r-$i/tocsin.yml" --storage.path="$work/r$r-$i/data" \
			--web.listen-address="127.0.0.1:${web[$i]}" --cluster.listen-address="127.0.0.1:${gossip[$i]}" \
			"${peers[@]}" --log.level=warn >"$work/r$r-$i/tocsin.log" 2>&1 &
		pids+=($!)
	done
	echo "probe_replication: $r — 3 replicas (pids ${pids[*]}), $N TCP probes at $INTERVAL; settling ${SETTLE}s"
	sleep "$SETTLE"
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || { echo "a replica exited:"; cat "$work"/r"$r"-*/tocsin.log; exit 1; }
	done
	declare -A t0 rss_sum rss_max
	for pid in "${pids[@]}"; do
		t0[$pid]=$(ticks "$pid")
		rss_sum[$pid]=0
		rss_max[$pid]=0
	done
	samples=0
	start=$(date +%s.%N)
	echo "  loadavg at start: $(cat /proc/loadavg)"
	for _ in $(seq $((SAMPLE / 5))); do
		sleep 5
		samples=$((samples + 1))
		for pid in "${pids[@]}"; do
			kb=$(rss_kb "$pid")
			rss_sum[$pid]=$((rss_sum[$pid] + kb))
			[ "$kb" -gt "${rss_max[$pid]}" ] && rss_max[$pid]=$kb
		done
	done
	elapsed=$(echo "$(date +%s.%N) - $start" | bc)
	echo "  loadavg at end:   $(cat /proc/loadavg)"
	hz=$(getconf CLK_TCK)
	for i in 0 1 2; do
		pid=${pids[$i]}
		owned=$(curl -fsS "http://127.0.0.1:${web[$i]}/metrics" | awk '/^tocsin_probes_owned / {print $2}')
		cpu=$(echo "scale=1; ($(ticks "$pid") - ${t0[$pid]}) * 100 / $hz / $elapsed" | bc)
		echo "  replica $((i + 1)): owns $owned probes, CPU ${cpu}% of one core, RSS avg $((rss_sum[$pid] / samples / 1024)) MB max $((rss_max[$pid] / 1024)) MB"
	done
	runs_per_probe "${web[@]}"
	stop "${pids[@]}"
	pids=()
	unset t0 rss_sum rss_max
done
