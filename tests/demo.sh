#!/bin/sh
# make demo: two lanspreadd on loopback, driven only with lanspreadctl.
# beta downloads and installs alienswarm from alpha, then both stop.
set -eu
B=${1:-build}
top=$(pwd)
run=$(mktemp -d /tmp/lanspread-demo.XXXXXX)
ctl="$top/$B/lanspreadctl"
pids=""

cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$run"
}
trap cleanup EXIT INT TERM

start() {	# name, games folder, address, web page address
	mkdir -p "$2"
	cat > "$run/$1.conf" <<CONF
# lanspread.conf(5) for the demo's $1
name = $1
games_dir = $2
state_dir = $run/$1-state
catalog = $top/$B/fixtures/game.db
listen = $3
mdns = no
unrar = builtin
control_socket = $run/$1.sock
user =
web_listen = $4
CONF
	"$top/$B/lanspreadd" -d -f "$run/$1.conf" 2> "$run/$1.log" &
	pids="$pids $!"
	i=0
	until "$ctl" -s "$run/$1.sock" status >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "demo: $1 did not start:" >&2
			cat "$run/$1.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

say() { printf '\n== %s\n' "$*"; }

say "starting alpha (serving build/fixtures/fixture-alpha) and beta (empty)"
start alpha "$top/$B/fixtures/fixture-alpha" 127.0.0.2:7331 127.0.0.2:7380
start beta "$run/beta-games" 127.0.0.3:7331 127.0.0.3:7380
say "the players' page of beta: http://127.0.0.3:7380/ (alpha's: http://127.0.0.2:7380/)"
echo "open it in a browser on this machine to watch the download live"


say "lanspreadctl -s beta.sock connect 127.0.0.2:7331"
"$ctl" -s "$run/beta.sock" connect 127.0.0.2:7331

say "lanspreadctl -s beta.sock peers"
"$ctl" -s "$run/beta.sock" peers

say "lanspreadctl -s beta.sock games"
"$ctl" -s "$run/beta.sock" games

say "lanspreadctl -s beta.sock download alienswarm (download, then install)"
"$ctl" -s "$run/beta.sock" download alienswarm

say "lanspreadctl -s beta.sock games"
"$ctl" -s "$run/beta.sock" games

say "installed files on beta"
(cd "$run/beta-games/alienswarm/local" && find . -type f | sort | xargs ls -l)

say "lanspreadctl -s beta.sock status"
"$ctl" -s "$run/beta.sock" status
if [ -t 0 ]; then
	say "the daemons keep running: open http://127.0.0.3:7380/ in a browser; press Enter to stop them"
	read -r _
fi
say "stopping both daemons"
