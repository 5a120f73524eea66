#!/bin/bash
# slurm-local.sh - start/stop a throw-away single-node Slurm cluster for tests.
#
# Usage:
#   scripts/slurm-local.sh start DIR   # DIR: an existing (e.g. mktemp -d) state dir
#   scripts/slurm-local.sh stop  DIR
#
#   DIR=$(mktemp -d)
#   trap 'scripts/slurm-local.sh stop "$DIR"' EXIT
#   eval "$(scripts/slurm-local.sh start "$DIR")"   # sets SLURM_CONF
#   sbatch --wrap 'echo hi'
#
# Requirements: root (slurmd must run as root to launch jobs), and the Debian
# packages slurm-wlm and munge. No systemd is used: munged, slurmctld and slurmd
# are started directly and everything they write (key, socket, config, state,
# spool, logs, pid files) lives under DIR, so the cluster never touches
# /etc/slurm, /etc/munge or a system munged, and several DIRs can coexist.
#
# Environment:
#   SLURM_LOCAL_MAX_ARRAY   MaxArraySize (default 3: deliberately tiny so tests
#                           exercise the splitting of large arrays)
#   SLURM_LOCAL_TIMEOUT     seconds to wait for the node to become idle (60)
#
# "start" prints `export SLURM_CONF=DIR/slurm.conf` on stdout (and writes it to
# DIR/env.sh); everything else goes to stderr so the output can be eval'ed.
# Clients need only SLURM_CONF: the munge socket path travels in AuthInfo.
#
# Tested with Slurm 22.05 (Debian 12). Quirks worth knowing:
#  - No accounting storage, so sacct does not work; use `scontrol show job`
#    (finished jobs stay visible for MinJobAge=300 s).
#  - Array indices must be < MaxArraySize (MaxArraySize=3 allows 0-2 only);
#    sbatch --array=0-5 fails with "Invalid job array specification".
#  - The node is idle ~0.3 s after start, but slurmctld's first scheduling
#    pass comes ~3 s after it starts, so the very first job waits that long.
#  - squeue hides finished jobs unless given -t all.
#  - munged logs "Socket is inaccessible" when DIR is 0700 (mktemp -d); that
#    only matters for non-root clients.

set -eu

PROG=${0##*/}

die() { echo "$PROG: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

usage() {
	echo "usage: $PROG start|stop DIR" >&2
	exit 2
}

# Print the pid stored in FILE if that process is still alive.
live_pid() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(head -n1 "$1" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

# True if nothing listens on TCP port $1 (on any address).
port_free() {
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]
	else
		# Fallback: a port nobody answers on is assumed to be free.
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 1
		fi
	fi
}

# First free port >= $1 that is not $2 (so ctld and slurmd never collide).
pick_port() {
	local p=$1
	while [ "$p" -lt 65000 ]; do
		if [ "$p" != "${2:-}" ] && port_free "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	die "no free TCP port found above $1"
}

# SIGTERM every daemon named by the given pid files at once (each takes ~2 s
# to shut down, so doing them in turn would double the wait), wait up to
# $1 seconds for all of them, then SIGKILL the stragglers.
stop_pidfiles() {
	local wait=$1 pidfile pid pids="" i alive
	shift
	for pidfile in "$@"; do
		if pid=$(live_pid "$pidfile"); then
			kill -TERM "$pid" 2>/dev/null || true
			pids="$pids $pid"
		fi
	done
	i=0
	while [ -n "$pids" ]; do
		alive=""
		for pid in $pids; do
			if kill -0 "$pid" 2>/dev/null; then alive="$alive $pid"; fi
		done
		pids=$alive
		[ -n "$pids" ] || break
		if [ "$i" -ge $((wait * 10)) ]; then
			log "pid(s)$pids ignored SIGTERM for ${wait}s, killing"
			for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
			sleep 0.2
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$@"
}

# slurmstepd outlives slurmd, and its command line does not say which cluster
# it belongs to; it does keep slurmd's log file open, which identifies it as
# ours.  Its job's processes share its session, so kill the whole session.
kill_stray_stepds() {
	local dir=$1 p fd sid
	for p in $(pgrep -x slurmstepd 2>/dev/null || true); do
		for fd in /proc/"$p"/fd/*; do
			case $(readlink "$fd" 2>/dev/null) in
			"$dir"/*)
				sid=$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ') || sid=
				log "killing leftover slurmstepd $p (session ${sid:-?})"
				if [ -n "$sid" ] && [ "$sid" -gt 1 ]; then
					pkill -KILL -s "$sid" 2>/dev/null || true
				fi
				kill -KILL "$p" 2>/dev/null || true
				break
				;;
			esac
		done
	done
}

do_stop() {
	local dir=$1 conf jobs i
	conf=$dir/slurm.conf

	# Cancel jobs while the controller is still up, so their steps are torn
	# down by Slurm instead of being orphaned when slurmd exits.
	if [ -f "$conf" ] && live_pid "$dir/run/slurmctld.pid" >/dev/null; then
		# One line of ids, so it reads well in the log and splits into args.
		jobs=$(SLURM_CONF=$conf timeout 10 squeue -h -o %A 2>/dev/null | tr '\n' ' ' || true)
		jobs=${jobs% }
		if [ -n "$jobs" ]; then
			log "cancelling leftover jobs: $jobs"
			# shellcheck disable=SC2086  # word splitting wanted: one arg per job
			SLURM_CONF=$conf timeout 10 scancel $jobs 2>/dev/null || true
			# Give KillWait (5 s) a chance before we pull the daemons away.
			i=0
			while [ "$i" -lt 15 ] && [ -n "$(SLURM_CONF=$conf timeout 5 \
				squeue -h -t R,CG -o %A 2>/dev/null || true)" ]; do
				sleep 1
				i=$((i + 1))
			done
		fi
	fi

	stop_pidfiles 10 "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid"
	kill_stray_stepds "$dir"
	# munged last: slurmd/slurmctld may need it while shutting down.
	stop_pidfiles 5 "$dir/munge/munged.pid"
	return 0
}

# Show the end of each log so a failed start can be diagnosed from CI output.
dump_logs() {
	local f
	for f in "$1"/log/*.log "$1"/munge/munged.log; do
		[ -f "$f" ] || continue
		echo "----- tail $f -----" >&2
		tail -n 30 "$f" >&2
	done
}

write_conf() {
	local dir=$1 host=$2 ctld_port=$3 slurmd_port=$4 cpus mem_mb
	cpus=$(nproc)
	# Claim only half the RAM: slurmd drains a node whose RealMemory exceeds
	# what it actually finds, and tests do not need the rest.
	mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 / 2 }' /proc/meminfo)
	[ "$mem_mb" -ge 1 ] || mem_mb=1

	cat >"$dir/slurm.conf" <<EOF
# Generated by $PROG for a local single-node test cluster. Do not edit.
ClusterName=backdoorlab
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root

# Private munged (see DIR/munge); cred/munge reads the socket from AuthInfo too.
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge

# cgroup-free plugins: containers rarely give us a usable cgroup hierarchy.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU

# Keep every file of this cluster inside DIR.
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
# The default MailProg may be missing; slurmctld logs an error without it.
MailProg=/bin/true

# Small on purpose, so tests exercise splitting of big arrays.
MaxArraySize=${SLURM_LOCAL_MAX_ARRAY:-3}
# The defaults rate-limit the scheduler to one pass every ~3 s after a job
# ends; without the delay an empty array task costs ~1 s instead of ~3 s.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# Finished jobs stay visible to scontrol (there is no sacct here).
MinJobAge=300
# A restarted/late slurmd rejoins instead of staying DOWN.
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5

NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
	# An empty plugstack keeps /etc/slurm/plugstack.conf.d SPANK plugins out.
	: >"$dir/plugstack.conf"
}

do_start() {
	local dir=$1 conf host ctld_port slurmd_port t0 i state pf pid cmd
	[ "$(id -u)" -eq 0 ] || die "must run as root (slurmd launches jobs as root)"
	for cmd in munged slurmctld slurmd sinfo scontrol; do
		command -v "$cmd" >/dev/null 2>&1 ||
			die "$cmd not found (apt-get install slurm-wlm munge)"
	done
	[ -d "$dir" ] || die "$dir: no such directory"
	dir=$(cd "$dir" && pwd -P)
	conf=$dir/slurm.conf

	for pf in munge/munged.pid run/slurmctld.pid run/slurmd.pid; do
		if pid=$(live_pid "$dir/$pf"); then
			die "$dir already has a running daemon ($pf: pid $pid); run '$PROG stop $dir' first"
		fi
	done

	t0=$(date +%s.%N)
	# From here on, a failure must not leave half a cluster running.
	# shellcheck disable=SC2154  # rc is assigned inside the trap string
	trap 'rc=$?; if [ "$rc" -ne 0 ]; then dump_logs "$dir"; do_stop "$dir"; fi' EXIT

	# munged insists that its directories are not writable by others.
	mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/run" "$dir/log"
	chmod 0700 "$dir/state" "$dir/spool"
	chmod 0755 "$dir/munge" "$dir/run" "$dir/log"

	# munged checks that the key belongs to the user it runs as (root here).
	if [ ! -s "$dir/munge/munge.key" ]; then
		if command -v mungekey >/dev/null 2>&1; then
			mungekey --create --keyfile="$dir/munge/munge.key"
		else
			dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
		fi
	fi
	chmod 0400 "$dir/munge/munge.key"

	# --force: munged refuses to run as root or with a key under a path it
	# considers insecure (e.g. a mktemp dir below world-writable /tmp).
	munged --force \
		--socket="$dir/munge/munge.socket" \
		--key-file="$dir/munge/munge.key" \
		--pid-file="$dir/munge/munged.pid" \
		--seed-file="$dir/munge/munged.seed" \
		--log-file="$dir/munge/munged.log" \
		</dev/null >>"$dir/munge/munged.log" 2>&1 ||
		die "munged failed to start"

	host=$(hostname -s)
	ctld_port=$(pick_port 6817)
	slurmd_port=$(pick_port 6818 "$ctld_port")
	write_conf "$dir" "$host" "$ctld_port" "$slurmd_port"

	# Both daemonize themselves and write the pid files named in slurm.conf;
	# stdio goes to the logs so `eval "$(... start DIR)"` does not hang on an
	# inherited stdout.  -i: ignore any stale state from a previous run.
	SLURM_CONF=$conf slurmctld -i -f "$conf" </dev/null >>"$dir/log/slurmctld.out" 2>&1 ||
		die "slurmctld failed to start"
	SLURM_CONF=$conf slurmd -f "$conf" -N "$host" </dev/null >>"$dir/log/slurmd.out" 2>&1 ||
		die "slurmd failed to start"

	i=0
	state=
	while [ "$i" -lt $((${SLURM_LOCAL_TIMEOUT:-60} * 5)) ]; do
		state=$(SLURM_CONF=$conf sinfo -h -n "$host" -o %T 2>/dev/null || true)
		[ "$state" = idle ] && break
		sleep 0.2
		i=$((i + 1))
	done
	[ "$state" = idle ] || die "node $host not idle after ${SLURM_LOCAL_TIMEOUT:-60}s (state: '${state:-none}')"

	echo "export SLURM_CONF=$conf" >"$dir/env.sh"
	trap - EXIT
	log "cluster up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s" \
		"(ctld port $ctld_port, slurmd port $slurmd_port, node $host)"
	echo "export SLURM_CONF=$conf"
}

[ $# -eq 2 ] || usage
case $1 in
start) do_start "$2" ;;
stop)
	[ -d "$2" ] || exit 0 # nothing was ever started there
	do_stop "$(cd "$2" && pwd -P)"
	;;
*) usage ;;
esac
