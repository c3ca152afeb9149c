#!/usr/bin/env bash
# bench-resources.sh — tocsin's CPU and memory while it runs many MQTT round-trip probes.
#
# Starts mosquitto (Debian: apt-get install mosquitto) in its own process on a free port of
# 127.0.0.1, generates a tocsin config of N round-trip probes (each its own topic, QoS 1,
# interval 1s, timeout 900ms) plus the shipped liveness rule pack, runs bin/tocsin as its own
# process, lets it settle, then samples utime+stime from /proc/<pid>/stat and VmRSS from
# /proc/<pid>/status. Linux only. Everything it starts is stopped on exit.
#
#   examples/particle/bench-resources.sh                 # 1,000 probes, settle 20s, sample 60s
#   N=200 SETTLE=10 SAMPLE=30 examples/particle/bench-resources.sh
#   MQTT_VERSION=5 examples/particle/bench-resources.sh
#   RULES=none examples/particle/bench-resources.sh       # probes and storage only, no rule files
set -euo pipefail

N=${N:-1000}
SETTLE=${SETTLE:-20}
SAMPLE=${SAMPLE:-60}
MQTT_VERSION=${MQTT_VERSION:-3.1.1}
RULES=${RULES:-liveness}

cd "$(dirname "$0")/../.."
# shellcheck source=bench-lib.sh
. examples/particle/bench-lib.sh
root=$(pwd)
command -v mosquitto >/dev/null || { echo "mosquitto is not installed" >&2; exit 1; }
[ -x bin/tocsin ] || make build >/dev/null

work=$(mktemp -d)
broker_pid=
tocsin_pid=
cleanup() {
	stop "$tocsin_pid" "$broker_pid"
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mqtt_port=$(free_port)
web_port=$(free_port)

start_mosquitto "$mqtt_port"

mkdir -p "$work/rules"
case $RULES in
liveness) cp configs/rules/liveness.yml "$work/rules/" ;;
none) ;;
*) echo "RULES must be liveness or none" >&2; exit 1 ;;
esac
write_config "$([ "$RULES" = none ] || echo 'rules/*.yml')" 'http://127.0.0.1:9/'
start_tocsin

metric_count() { # metric_count VALUE: probes whose probe_success has VALUE
	curl -fsS "http://127.0.0.1:$web_port/metrics" 2>/dev/null | grep -c "^probe_success{.*} $1\$" || true
}

echo "tocsin pid $tocsin_pid, mosquitto pid $broker_pid on 127.0.0.1:$mqtt_port; $N probes at 1s (MQTT $MQTT_VERSION)"
echo "settling for ${SETTLE}s ..."
sleep "$SETTLE"
kill -0 "$tocsin_pid" 2>/dev/null || { echo "tocsin exited:"; cat "$work/tocsin.log"; exit 1; }

hz=$(getconf CLK_TCK)
metric_sum() { # metric_sum NAME: sum of a metric's series
	curl -fsS "http://127.0.0.1:$web_port/metrics" 2>/dev/null |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $NF} END {printf "%f\n", s}'
}
failures() { curl -fsS "http://127.0.0.1:$web_port/metrics" 2>/dev/null |
	awk '/^probe_failures_total\{/ && !/reason="late"/ {s += $NF} END {printf "%d\n", s}'; }

t0=$(date +%s.%N)
c0=$(ticks "$tocsin_pid")
b0=$(ticks "$broker_pid")
f0=$(failures)
e0=$(metric_sum prometheus_rule_evaluations_total)
d0=$(metric_sum prometheus_rule_evaluation_duration_seconds_sum)
rss_max=0
rss_sum=0
samples=0
end=$(($(date +%s) + SAMPLE))
while [ "$(date +%s)" -lt "$end" ]; do
	sleep 5
	r=$(rss_kb "$tocsin_pid")
	rss_sum=$((rss_sum + r))
	samples=$((samples + 1))
	[ "$r" -gt "$rss_max" ] && rss_max=$r
done
t1=$(date +%s.%N)
c1=$(ticks "$tocsin_pid")
b1=$(ticks "$broker_pid")
f1=$(failures)
e1=$(metric_sum prometheus_rule_evaluations_total)
d1=$(metric_sum prometheus_rule_evaluation_duration_seconds_sum)
ok=$(metric_count 1)
bad=$(metric_count 0)

awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v b0="$b0" -v b1="$b1" -v hz="$hz" \
	-v rmax="$rss_max" -v rsum="$rss_sum" -v n="$samples" -v probes="$N" -v ok="$ok" -v bad="$bad" \
	-v fails=$((f1 - f0)) -v e0="$e0" -v e1="$e1" -v d0="$d0" -v d1="$d1" -v rules="$RULES" 'BEGIN {
	dt = t1 - t0
	printf "sampled %.0fs after settling\n", dt
	printf "probes succeeding %d, failing %d; failed runs while sampling: %d of ~%d\n", ok, bad, fails, probes * dt
	printf "tocsin CPU: %.1f%% of one core\n", 100 * (c1 - c0) / hz / dt
	printf "tocsin RSS: %.1f MB average, %.1f MB max (VmRSS)\n", rsum / n / 1024, rmax / 1024
	printf "rules (%s): %.0f rule evaluations/s, %.2f ms each on average, busy %.0f%% of the time\n", rules,
		(e1 - e0) / dt, (e1 > e0 ? 1000 * (d1 - d0) / (e1 - e0) : 0), 100 * (d1 - d0) / dt
	printf "mosquitto CPU: %.1f%% of one core\n", 100 * (b1 - b0) / hz / dt
}'
