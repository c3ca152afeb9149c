# bench-lib.sh — what the benchmark scripts beside it share: a free port, mosquitto in its own
# process, the probe configs, a process' CPU time and memory from /proc, and stopping what they
# started. Sourced, not run; start_mosquitto expects $work (a scratch directory). Linux only.

# stop PID... stops each process (empty ones are skipped) and waits for it to end.
stop() {
	for pid; do
		if [ -n "$pid" ]; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
}

# free_port prints a port of 127.0.0.1 that nothing listens on, below the kernel's ephemeral
# range: on a busy machine, other processes' outgoing connections take ephemeral ports between
# this check and the bind.
free_port() {
	local p lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port found" >&2
	exit 1
}

# start_mosquitto PORT starts mosquitto on 127.0.0.1:PORT, sets broker_pid and waits until it
# accepts connections. Calling it again after the broker stopped starts a new one on the same port.
start_mosquitto() {
	cat >"$work/mosquitto.conf" <<CONF
listener $1 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
CONF
	mosquitto -c "$work/mosquitto.conf" 2>>"$work/mosquitto.log" &
	broker_pid=$!
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
		kill -0 "$broker_pid" 2>/dev/null || { echo "mosquitto exited:"; cat "$work/mosquitto.log"; exit 1; }
		sleep 0.1
	done
}

# roundtrip_probes N PORT VERSION prints N MQTT round-trip probes (each its own topic, QoS 1,
# interval 1s, timeout 900ms) against 127.0.0.1:PORT, for the `probes:` list of a config.
roundtrip_probes() {
	for i in $(seq 1 "$1"); do
		cat <<PROBE
- name: rt-$i
  interval: 1s
  timeout: 900ms
  labels: {service: broker}
  roundtrip:
    send:   {mqtt: {url: 'tcp://127.0.0.1:$2', topic: bench/$i, qos: 1, protocol_version: '$3'}}
    expect: {mqtt: {url: 'tcp://127.0.0.1:$2', topic: bench/$i, qos: 1, protocol_version: '$3'}}
PROBE
	done
}

# ticks PID prints utime + stime of a process, in clock ticks.
ticks() {
	local s
	s=$(cat "/proc/$1/stat")
	s=${s##*) } # the fields after the command name
	read -r -a f <<<"$s"
	echo $((f[11] + f[12]))
}

# rss_kb PID prints a process' resident memory (VmRSS) in KiB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# write_config RULE_FILES RECEIVER_URL [PROBES] writes $work/tocsin.yml: the probes PROBES prints
# (by default N round-trip probes against mosquitto on $mqtt_port, MQTT $MQTT_VERSION), the rule
# files (a YAML list's contents, empty for none), and one alert group per alert and probe, notified
# at once to a webhook at RECEIVER_URL.
write_config() {
	{
		cat <<CONF
global:
  replica: bench-1
storage: {path: data/, retention: 1h}
rule_files: [$1]
evaluation_interval: 5s
probes:
CONF
		if [ -n "${3:-}" ]; then "$3"; else roundtrip_probes "$N" "$mqtt_port" "$MQTT_VERSION"; fi
		sink_route "$2"
	} >"$work/tocsin.yml"
}

# sink_route RECEIVER_URL prints the route of the benchmarks' configs: one alert group per alert and
# probe, notified at once to a webhook at RECEIVER_URL.
sink_route() {
	cat <<CONF
route:
  receiver: sink
  group_by: [alertname, probe]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
- name: sink
  webhook_configs: [{url: '$1'}]
CONF
}

# start_tocsin runs bin/tocsin on $work/tocsin.yml as its own process, serving on $web_port,
# and sets tocsin_pid.
start_tocsin() {
	bin/tocsin run --config.file="$work/tocsin.yml" --web.listen-address="127.0.0.1:$web_port" \
		--log.level=warn >"$work/tocsin.log" 2>&1 &
	tocsin_pid=$!
}
