#!/usr/bin/env bash
# bench.sh — CPU per HTTP probe run: tocsin against Prometheus scraping blackbox_exporter's /probe,
# the same targets, one after the other in one run.
#
# Starts a tiny HTTP server (examples/blackbox/target: every path answers 200 "ok" and it counts the
# requests) on a free port of 127.0.0.1, then for each side in ORDER:
#   tocsin  bin/tocsin with N HTTP probes (one path each, interval 1s, timeout 900ms) and the
#           shipped configs/rules/liveness.yml;
#   stack   Debian's blackbox_exporter and Prometheus (apt-get install prometheus
#           prometheus-blackbox-exporter) scraping /probe?module=http_2xx for the same N targets,
#           scrape_interval 1s, scrape_timeout 900ms, evaluating the same rule file every 5s.
# Each side settles for SETTLE seconds, then utime + stime (/proc/<pid>/stat) and VmRSS
# (/proc/<pid>/status, every 5s) are sampled for SAMPLE seconds; the server's own count of the
# requests it answered meanwhile is the number of probe runs. Linux only; everything it starts
# is stopped on exit.
#
#   examples/blackbox/bench.sh                            # 1,000 targets, settle 30s, sample 60s
#   N=100 SETTLE=10 SAMPLE=20 examples/blackbox/bench.sh
#   ORDER="stack tocsin" examples/blackbox/bench.sh       # the stack first
#   ORDER=tocsin SETTLE=600 SAMPLE=60 examples/blackbox/bench.sh   # tocsin's RSS after 10 minutes
set -euo pipefail

N=${N:-1000}
SETTLE=${SETTLE:-30}
SAMPLE=${SAMPLE:-60}
ORDER=${ORDER:-tocsin stack}

cd "$(dirname "$0")/../.."
# shellcheck source=../particle/bench-lib.sh
. examples/particle/bench-lib.sh
for cmd in prometheus prometheus-blackbox-exporter curl; do
	command -v "$cmd" >/dev/null || { echo "$cmd is not installed" >&2; exit 1; }
done
[ -x bin/tocsin ] || make build >/dev/null

work=$(mktemp -d)
target_pid=
pids=()
cleanup() {
	stop "${pids[@]}" "$target_pid"
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/target" ./examples/blackbox/target
target_port=$(free_port)
"$work/target" -listen "127.0.0.1:$target_port" 2>"$work/target.log" &
target_pid=$!
for _ in $(seq 50); do
	curl -fsS "http://127.0.0.1:$target_port/count" >/dev/null 2>&1 && break
	sleep 0.1
done
served() { curl -fsS "http://127.0.0.1:$target_port/count"; }
mkdir -p "$work/rules"
cp configs/rules/liveness.yml "$work/rules/"

# wait_up URL LOG waits until URL answers.
wait_up() {
	for _ in $(seq 300); do
		curl -fsS "$1" >/dev/null 2>&1 && return
		sleep 0.2
	done
	echo "$1 did not come up:" >&2
	tail -20 "$2" >&2
	exit 1
}

hz=$(getconf CLK_TCK)
# measure NAME PID... settles, samples, and prints the CPU and RSS of the processes together.
measure() {
	local name=$1 t0 c0 s0 end r rsum=0 rmax=0 n=0 c=0 pid la0
	shift
	echo "$name: settling for ${SETTLE}s ..."
	sleep "$SETTLE"
	for pid; do kill -0 "$pid" 2>/dev/null || { echo "$name: pid $pid exited; logs in $work" >&2; KEEP=1; exit 1; }; done
	la0=$(cut -d' ' -f1-3 /proc/loadavg)
	t0=$(date +%s.%N)
	s0=$(served)
	for pid; do c=$((c - $(ticks "$pid"))); done
	end=$(($(date +%s) + SAMPLE))
	while [ "$(date +%s)" -lt "$end" ]; do
		sleep 5
		r=0
		for pid; do r=$((r + $(rss_kb "$pid"))); done
		rsum=$((rsum + r))
		n=$((n + 1))
		[ "$r" -gt "$rmax" ] && rmax=$r
	done
	for pid; do c=$((c + $(ticks "$pid"))); done
	awk -v name="$name" -v t0="$t0" -v t1="$(date +%s.%N)" -v c="$c" -v hz="$hz" -v runs=$(($(served) - s0)) \
		-v rsum="$rsum" -v n="$n" -v rmax="$rmax" -v probes="$N" -v la0="$la0" -v la1="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
		dt = t1 - t0
		printf "%s: sampled %.0fs, %d probe runs (%.0f/s for %d targets), load average %s → %s\n", name, dt, runs, runs / dt, probes, la0, la1
		printf "%s: CPU %.1f%% of one core, %.3f ms per probe run; RSS %.1f MB average, %.1f MB max\n",
			name, 100 * c / hz / dt, (runs ? 1000 * c / hz / runs : 0), (n ? rsum / n / 1024 : 0), rmax / 1024
		printf "%s %.6f\n", name, (runs ? 1000 * c / hz / runs : 0) > "/dev/stderr"
	}' 2>>"$work/per-run"
}

# http_probes prints N HTTP probes of the target server, one path each.
http_probes() {
	for i in $(seq 1 "$N"); do
		printf -- "- name: http-%d\n  interval: 1s\n  timeout: 900ms\n  labels: {service: web}\n  http: {url: 'http://127.0.0.1:%d/t/%d'}\n" \
			"$i" "$target_port" "$i"
	done
}

run_tocsin() {
	local web_port tocsin_pid
	web_port=$(free_port)
	write_config "'rules/*.yml'" 'http://127.0.0.1:9/' http_probes
	start_tocsin
	pids+=("$tocsin_pid")
	echo "tocsin: pid $tocsin_pid, $N HTTP probes of 127.0.0.1:$target_port at 1s"
	wait_up "http://127.0.0.1:$web_port/-/ready" "$work/tocsin.log"
	measure tocsin "$tocsin_pid"
	echo "tocsin: probes succeeding $(curl -fsS "http://127.0.0.1:$web_port/metrics" | grep -c '^probe_success{.*} 1$' || true) of $N"
	stop "$tocsin_pid"
}

run_stack() {
	local bb_port prom_port bb prom
	bb_port=$(free_port)
	prom_port=$(free_port)
	cat >"$work/blackbox.yml" <<CONF
modules:
  http_2xx:
    prober: http
    timeout: 900ms
    http: {preferred_ip_protocol: ip4}
CONF
	{
		cat <<CONF
global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 5s}
rule_files: ['$work/rules/*.yml']
scrape_configs:
- job_name: blackbox
  metrics_path: /probe
  params: {module: [http_2xx]}
  relabel_configs:
  - {source_labels: [__address__], target_label: __param_target}
  - {source_labels: [__param_target], target_label: instance}
  - {target_label: __address__, replacement: '127.0.0.1:$bb_port'}
  static_configs:
  - targets:
CONF
		for i in $(seq 1 "$N"); do echo "    - http://127.0.0.1:$target_port/t/$i"; done
	} >"$work/prometheus.yml"
	prometheus-blackbox-exporter --config.file="$work/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" \
		--log.level=warn >"$work/blackbox.log" 2>&1 &
	bb=$!
	pids+=("$bb")
	prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
		--web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
	prom=$!
	pids+=("$prom")
	echo "stack: blackbox_exporter pid $bb, prometheus pid $prom, $N targets of 127.0.0.1:$target_port at 1s"
	wait_up "http://127.0.0.1:$prom_port/-/ready" "$work/prometheus.log"
	measure stack "$prom" "$bb"
	echo "stack: probes succeeding $(curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=count(probe_success == 1)' |
		sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)"\].*/\1/p') of $N"
	stop "$prom" "$bb"
}

for side in $ORDER; do
	case $side in
	tocsin) run_tocsin ;;
	stack) run_stack ;;
	*) echo "ORDER lists tocsin and stack" >&2; exit 1 ;;
	esac
done
awk '{ms[$1] = $2} END {
	if (("tocsin" in ms) && ("stack" in ms) && ms["stack"] > 0)
		printf "tocsin per probe run / stack per probe run: %.2f (goal ≤ 0.20)\n", ms["tocsin"] / ms["stack"]
}' "$work/per-run"
