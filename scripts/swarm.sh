#!/usr/bin/env bash
# A Docker Swarm of several engines on this one machine, for meshtest's
# swarm backend: each engine is a dockerd of its own (own data root, exec
# root, containerd and socket) in its own network namespace, the namespaces
# joined by one bridge of the host, the first engine the manager and the
# others workers. The host's own engine is left alone: it stays out of swarm
# mode, and nothing of it is touched.
#
#   scripts/swarm.sh up [N]   start N engines (default 3) and form the swarm
#   scripts/swarm.sh down     remove all of it, and leave the host as found
#   scripts/swarm.sh status   the engines, their sockets and swarm roles
#   scripts/swarm.sh host-state  what of the host up changes (links, network
#                             namespaces, FORWARD rules, mounts, daemons,
#                             directories), to compare before up and after down
#
# Needs root (namespaces, veths, a second dockerd). What it makes, all named
# mtswarm (MESHTEST_SWARM_NAME), so that down removes exactly that:
#   network namespaces  mtswarm-e1 … (bind mounts in /run/netns)
#   a host bridge       mtswarm0, 192.168.213.1/24 (MESHTEST_SWARM_SUBNET)
#   veths               mtswarm-e1 … on the host side, eth0 inside
#   an iptables rule    FORWARD -i mtswarm0 -o mtswarm0 ACCEPT (the host's
#                       dockerd sets FORWARD's policy to DROP, and bridged
#                       frames pass FORWARD with br_netfilter loaded)
#   daemons             dockerd and its containerd per engine
#   state               /run/mtswarm: engines (one line per engine: name,
#                       socket, address, role), daemons' pids and logs
#   data roots          /var/lib/mtswarm/e1 …
#
# The swarm backend reads the engines file: go test ./experiments_test
# -run '^TestStar$' -backend=swarm -swarm=/run/mtswarm/engines.
set -euo pipefail

NAME=${MESHTEST_SWARM_NAME:-mtswarm}
SUBNET=${MESHTEST_SWARM_SUBNET:-192.168.213}
STATE=/run/$NAME
DATA=/var/lib/$NAME
BRIDGE=${NAME}0

log() { echo "swarm: $*" >&2; }
die() { log "$*"; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (it makes network namespaces and starts dockerd); try: sudo $0 $*"
	for tool in ip nsenter dockerd docker iptables; do
		command -v "$tool" >/dev/null || die "$tool is not installed"
	done
}

# engine_docker N ARGS...: the docker CLI against engine N.
engine_docker() {
	local n=$1
	shift
	docker -H "unix://$STATE/e$n.sock" "$@"
}

up() {
	local count=${1:-3}
	[[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 20 ] ||
		die "up $count: the number of engines must be 1..20"
	[ ! -e "$STATE/engines" ] || die "a swarm is already up ($STATE/engines); run: $0 down"
	trap 'log "up failed: removing what it made"; down; exit 1' ERR

	mkdir -p "$STATE" "$DATA"
	if [ ! -d /run/netns ]; then
		mkdir -p /run/netns
		touch "$STATE/made-run-netns" # so that down removes it again
	fi
	echo '{}' >"$STATE/daemon.json" # the stock /etc/docker/daemon.json names the host's data root
	ip link add "$BRIDGE" type bridge
	ip addr add "$SUBNET.1/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT -m comment --comment "$NAME"

	local n addr
	for n in $(seq 1 "$count"); do
		addr=$SUBNET.$((10 + n))
		ip netns add "$NAME-e$n"
		ip link add "$NAME-e$n" type veth peer name eth0 netns "$NAME-e$n"
		ip link set "$NAME-e$n" master "$BRIDGE" up
		ip -n "$NAME-e$n" addr add "$addr/24" dev eth0
		ip -n "$NAME-e$n" link set eth0 up
		ip -n "$NAME-e$n" link set lo up
		ip -n "$NAME-e$n" route add default via "$SUBNET.1"
		mkdir -p "$DATA/e$n" "$STATE/e$n"
		# nsenter, not ip netns exec: the latter remounts /sys, and dockerd
		# then finds no devices cgroup.
		nsenter --net="/run/netns/$NAME-e$n" dockerd \
			--config-file "$STATE/daemon.json" \
			--data-root "$DATA/e$n" --exec-root "$STATE/e$n" \
			--pidfile "$STATE/e$n.pid" -H "unix://$STATE/e$n.sock" \
			--storage-driver "$(docker info -f '{{.Driver}}')" \
			--label "meshtest.swarm=$NAME" --label "meshtest.engine=e$n" >"$STATE/e$n.log" 2>&1 &
	done
	for n in $(seq 1 "$count"); do
		for _ in $(seq 1 120); do
			engine_docker "$n" version >/dev/null 2>&1 && break
			sleep 0.5
		done
		engine_docker "$n" version >/dev/null 2>&1 || die "engine e$n did not start: see $STATE/e$n.log"
	done

	engine_docker 1 swarm init --advertise-addr "$SUBNET.11" >/dev/null
	local token
	token=$(engine_docker 1 swarm join-token -q worker)
	for n in $(seq 2 "$count"); do
		engine_docker "$n" swarm join --token "$token" --advertise-addr "$SUBNET.$((10 + n))" "$SUBNET.11:2377" >/dev/null
	done
	for n in $(seq 1 "$count"); do
		local role=worker
		[ "$n" = 1 ] && role=manager
		echo "e$n $STATE/e$n.sock $SUBNET.$((10 + n)) $role"
	done >"$STATE/engines.tmp"
	mv "$STATE/engines.tmp" "$STATE/engines"
	trap - ERR
	log "up: $count engines; the manager is unix://$STATE/e1.sock"
	status
}

down() {
	local n pid
	for pidfile in "$STATE"/e*.pid; do
		[ -e "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
	done
	# dockerd stops its containers and its containerd on SIGTERM; give it
	# what it takes, then kill what is left of this swarm's daemons.
	for _ in $(seq 1 60); do
		pgrep -f -- "--exec-root $STATE/" >/dev/null || break
		sleep 0.5
	done
	pkill -KILL -f -- "--exec-root $STATE/" 2>/dev/null || true
	pkill -KILL -f -- "$STATE/e[0-9]*/containerd" 2>/dev/null || true
	# What the daemons mounted under their roots (netns files, overlay and
	# shm mounts), deepest first.
	if [ -d "$STATE" ] || [ -d "$DATA" ]; then
		{ grep -oE " ($STATE|$DATA)/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
	fi
	for ns in /run/netns/"$NAME"-e*; do
		[ -e "$ns" ] || continue
		ip link del "$(basename "$ns")" 2>/dev/null || true
		ip netns del "$(basename "$ns")" 2>/dev/null || true
	done
	ip link del "$BRIDGE" 2>/dev/null || true
	while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT -m comment --comment "$NAME" 2>/dev/null; do :; done
	if [ -e "$STATE/made-run-netns" ]; then
		# ip netns bind-mounts the directory on itself
		umount /run/netns 2>/dev/null || true
		rmdir /run/netns 2>/dev/null || true
	fi
	rm -rf "$STATE" "$DATA"
	log "down: nothing of $NAME is left"
}

status() {
	[ -e "$STATE/engines" ] || die "no swarm is up ($STATE/engines is missing); run: $0 up"
	cat "$STATE/engines"
	engine_docker 1 node ls
}

# host_state prints what up changes on the host, without counters, so that
# the print before up and the one after down must be equal.
host_state() {
	echo "links: $(ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')"
	echo "netns: $(ls /run/netns 2>/dev/null | tr '\n' ' ') dir=$([ -d /run/netns ] && echo yes || echo no)"
	echo "forward: $(iptables -S FORWARD 2>/dev/null | tr '\n' '|')"
	echo "mounts: $(grep -c -E " (/run/$NAME|/var/lib/$NAME|/run/netns)" /proc/self/mounts || true)"
	echo "daemons: $(pgrep -c -f -- "--exec-root $STATE/" || true)"
	echo "dirs: $([ -e "$STATE" ] && echo "$STATE") $([ -e "$DATA" ] && echo "$DATA")"
}

cmd=${1:-}
shift || true
case $cmd in
up) need_root "$cmd" && up "$@" ;;
down) need_root "$cmd" && down ;;
status) status ;;
host-state) host_state ;;
*) die "usage: $0 up [N] | down | status | host-state" ;;
esac
