#!/usr/bin/env bash
# bench-remote-write.sh — what remote_write costs tocsin, side by side in one run.
#
# Starts mosquitto and Debian's Prometheus with its remote-write receiver, each in its own
# process on a free port of 127.0.0.1, and bin/tocsin with the N round-trip probes of
# bench-resources.sh and the shipped liveness pack. After SETTLE seconds it alternates phases
# without and with a remote_write entry (switched by SIGHUP, as an operator reloads), waits
# SWITCH seconds after each reload, then samples tocsin's utime+stime and VmRSS for SAMPLE
# seconds. Alternating keeps the load of other processes on the machine and the growth of the
# TSDB head from favouring one side. Linux only. Everything it starts is stopped on exit.
#
#   examples/particle/bench-remote-write.sh                      # 1,000 probes, off on off on
#   N=100 SETTLE=10 SAMPLE=20 examples/particle/bench-remote-write.sh
set -euo pipefail

N=${N:-1000}
SETTLE=${SETTLE:-20}
SWITCH=${SWITCH:-5}
SAMPLE=${SAMPLE:-30}
PHASES=${PHASES:-off on off on}
MQTT_VERSION=${MQTT_VERSION:-3.1.1}

cd "$(dirname "$0")/../.."
# shellcheck source=bench-lib.sh
. examples/particle/bench-lib.sh
command -v mosquitto >/dev/null || { echo "mosquitto is not installed" >&2; exit 1; }
command -v prometheus >/dev/null || { echo "prometheus is not installed (apt-get install prometheus)" >&2; exit 1; }
[ -x bin/tocsin ] || make build >/dev/null

work=$(mktemp -d)
broker_pid=
prom_pid=
tocsin_pid=
cleanup() {
	stop "$tocsin_pid" "$prom_pid" "$broker_pid"
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mqtt_port=$(free_port)
web_port=$(free_port)
prom_port=$(free_port)

start_mosquitto "$mqtt_port"
echo 'global: {scrape_interval: 1h}' >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom-data" \
	--web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
	--log.level=warn >"$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && break
	kill -0 "$prom_pid" 2>/dev/null || { echo "prometheus exited:"; cat "$work/prometheus.log"; exit 1; }
	sleep 0.1
done

mkdir -p "$work/rules"
cp configs/rules/liveness.yml "$work/rules/"
write_config 'rules/*.yml' 'http://127.0.0.1:9/'
cp "$work/tocsin.yml" "$work/tocsin-off.yml"
cat "$work/tocsin-off.yml" - >"$work/tocsin-on.yml" <<CONF
remote_write:
- url: http://127.0.0.1:$prom_port/api/v1/write
  name: bench
CONF

start_tocsin
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$web_port/-/healthy" >/dev/null 2>&1 && break
	kill -0 "$tocsin_pid" 2>/dev/null || { echo "tocsin exited:"; cat "$work/tocsin.log"; exit 1; }
	sleep 0.1
done
echo "tocsin pid $tocsin_pid, mosquitto pid $broker_pid, prometheus pid $prom_pid; $N probes at 1s"
echo "settling for ${SETTLE}s ..."
sleep "$SETTLE"

hz=$(getconf CLK_TCK)
metric_sum() { # metric_sum NAME: sum of a metric's series
	curl -fsS "http://127.0.0.1:$web_port/metrics" 2>/dev/null |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $NF} END {printf "%f\n", s}'
}

printf '%-6s %8s %12s %12s %14s %14s\n' phase "CPU %" "RSS avg MB" "RSS max MB" "samples sent/s" "prometheus CPU %"
for phase in $PHASES; do
	cp "$work/tocsin-$phase.yml" "$work/tocsin.yml"
	kill -HUP "$tocsin_pid"
	sleep "$SWITCH"
	kill -0 "$tocsin_pid" 2>/dev/null || { echo "tocsin exited:"; cat "$work/tocsin.log"; exit 1; }
	[ "$(metric_sum tocsin_config_last_reload_successful)" = 1.000000 ] || { echo "reload failed:"; cat "$work/tocsin.log"; exit 1; }
	t0=$(date +%s.%N)
	c0=$(ticks "$tocsin_pid")
	p0=$(ticks "$prom_pid")
	s0=$(metric_sum prometheus_remote_storage_samples_total)
	rss_max=0 rss_sum=0 n=0
	end=$(($(date +%s) + SAMPLE))
	while [ "$(date +%s)" -lt "$end" ]; do
		sleep 5
		r=$(rss_kb "$tocsin_pid")
		rss_sum=$((rss_sum + r)) n=$((n + 1))
		[ "$r" -gt "$rss_max" ] && rss_max=$r
	done
	t1=$(date +%s.%N)
	c1=$(ticks "$tocsin_pid")
	p1=$(ticks "$prom_pid")
	s1=$(metric_sum prometheus_remote_storage_samples_total)
	awk -v ph="$phase" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v p0="$p0" -v p1="$p1" -v hz="$hz" \
		-v s0="$s0" -v s1="$s1" -v rsum="$rss_sum" -v rmax="$rss_max" -v n="$n" 'BEGIN {
		dt = t1 - t0
		sent = (s1 >= s0) ? (s1 - s0) / dt : 0 # the counter starts again when the queue is replaced
		printf "%-6s %8.1f %12.1f %12.1f %14.0f %14.1f\n", ph, 100 * (c1 - c0) / hz / dt,
			rsum / n / 1024, rmax / 1024, sent, 100 * (p1 - p0) / hz / dt
	}'
done
echo "load: $(cat /proc/loadavg)"
echo "series at the receiver: $(curl -fsS "http://127.0.0.1:$prom_port/api/v1/query?query=count(probe_success)" | sed 's/.*"value":\[[^,]*,"\([0-9]*\)".*/\1/')"
