#!/usr/bin/env bash
# bench-outage.sh — a mass outage: every probe breaks at once. tocsin's CPU and memory before,
# during and after, how soon the pages come, and how many.
#
# Starts mosquitto (Debian: apt-get install mosquitto) in its own process on a free port of
# 127.0.0.1, a webhook receiver (examples/particle/pagelog, in Go) that logs when each
# notification arrives, and bin/tocsin as its own process with N MQTT round-trip probes (interval 1s, timeout 900ms), the shipped
# liveness rule pack, and one alert group per alert and probe (group_wait 0s) routed to the
# receiver. After SETTLE seconds it samples BEFORE seconds, stops the broker for OUTAGE seconds,
# starts it again on the same port and samples AFTER seconds more. It reports, per phase, tocsin's
# CPU (utime + stime from /proc/<pid>/stat) and RSS (VmRSS, every 5s); the time from the break to
# the first ProbeFailing page and to the page of the last probe; tocsin's own part of each page
# (from the rule evaluation that fired the alert, the alert's startsAt, to the page's arrival); how
# many probes were paged; and how many notifications arrived, firing and resolved. Resolves leave at the group's next flush
# (group_interval 5m), so they are counted only when AFTER is longer. Linux only; everything it
# starts is stopped on exit.
#
#   examples/particle/bench-outage.sh                          # 1,000 probes, 60s outage
#   N=100 SETTLE=10 BEFORE=10 OUTAGE=30 AFTER=30 examples/particle/bench-outage.sh
set -euo pipefail

N=${N:-1000}
SETTLE=${SETTLE:-30}
BEFORE=${BEFORE:-30}
OUTAGE=${OUTAGE:-60}
AFTER=${AFTER:-60}
MQTT_VERSION=${MQTT_VERSION:-3.1.1}

cd "$(dirname "$0")/../.."
# shellcheck source=bench-lib.sh
. examples/particle/bench-lib.sh
command -v mosquitto >/dev/null || { echo "mosquitto is not installed" >&2; exit 1; }
[ -x bin/tocsin ] || make build >/dev/null

work=$(mktemp -d)
broker_pid=
tocsin_pid=
hook_pid=
cleanup() {
	stop "$tocsin_pid" "$hook_pid" "$broker_pid"
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mqtt_port=$(free_port)
web_port=$(free_port)
hook_port=$(free_port)
start_mosquitto "$mqtt_port"

# The receiver (examples/particle/pagelog) writes one line per alert of each notification:
# <arrival, Unix seconds> <notification status> <alert status> <alertname> <probe> <startsAt, Unix seconds>
# An alert's startsAt is the time of the rule evaluation that fired it, so arrival - startsAt is
# tocsin's own part of the page: evaluation, dispatch and the webhook call. The arrival is taken
# as the receiver's handler starts, before it reads the body.
go build -o "$work/pagelog" ./examples/particle/pagelog
: >"$work/pages.log"
"$work/pagelog" -listen "127.0.0.1:$hook_port" -out "$work/pages.log" 2>"$work/hook.log" &
hook_pid=$!

mkdir -p "$work/rules"
cp configs/rules/liveness.yml "$work/rules/"
write_config 'rules/*.yml' "http://127.0.0.1:$hook_port/"
start_tocsin

echo "tocsin pid $tocsin_pid, mosquitto on 127.0.0.1:$mqtt_port; $N probes at 1s (MQTT $MQTT_VERSION)"
echo "settling for ${SETTLE}s ..."
sleep "$SETTLE"
kill -0 "$tocsin_pid" 2>/dev/null || { echo "tocsin exited:"; cat "$work/tocsin.log"; exit 1; }

hz=$(getconf CLK_TCK)
# sample NAME SECONDS prints one line: tocsin's CPU and RSS over the next SECONDS.
sample() {
	local t0 c0 end r sum=0 n=0 rmax=0
	t0=$(date +%s.%N)
	c0=$(ticks "$tocsin_pid")
	end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		sleep 5
		r=$(rss_kb "$tocsin_pid")
		sum=$((sum + r))
		n=$((n + 1))
		[ "$r" -gt "$rmax" ] && rmax=$r
	done
	awk -v name="$1" -v t0="$t0" -v t1="$(date +%s.%N)" -v c0="$c0" -v c1="$(ticks "$tocsin_pid")" \
		-v hz="$hz" -v sum="$sum" -v n="$n" -v rmax="$rmax" 'BEGIN {
		dt = t1 - t0
		printf "%-7s %4.0fs  tocsin CPU %5.1f%% of one core  RSS %6.1f MB average, %6.1f MB max\n",
			name, dt, 100 * (c1 - c0) / hz / dt, (n ? sum / n / 1024 : 0), rmax / 1024
	}'
}

sample before "$BEFORE"
broke=$(date +%s.%N)
kill "$broker_pid" && wait "$broker_pid" 2>/dev/null || true
echo "broker stopped for ${OUTAGE}s"
sample during "$OUTAGE"
start_mosquitto "$mqtt_port"
echo "broker started again"
sample after "$AFTER"

awk -v broke="$broke" -v probes="$N" '
$4 == "ProbeFailing" && $3 == "firing" {
	if (!($5 in first)) { first[$5] = $1 - broke; own[$5] = $1 - $6; paged++ }
}
{ notes[$2 " " $3]++; total++ }
END {
	min = -1; max = -1
	for (p in first) {
		if (min < 0 || first[p] < min) { min = first[p]; firstown = own[p] }
		if (first[p] > max) max = first[p]
	}
	if (paged) {
		printf "ProbeFailing: first page %.2fs after the break, last probe paged %.2fs after it; %d of %d probes paged\n", min, max, paged, probes
		n = 0
		for (p in own) { # insertion sort: mawk has no asort
			v = own[p]
			for (i = ++n; i > 1 && sorted[i - 1] > v; i--) sorted[i] = sorted[i - 1]
			sorted[i] = v
		}
		printf "tocsin'"'"'s own part (firing evaluation → webhook): first page %.0f ms; over all %d probes median %.0f ms, max %.0f ms\n",
			1000 * firstown, n, 1000 * sorted[int((n + 1) / 2)], 1000 * sorted[n]
	} else print "ProbeFailing: no page"
	printf "alerts in notifications: %d", total
	for (k in notes) printf "; %s: %d", k, notes[k]
	print ""
}' "$work/pages.log"
