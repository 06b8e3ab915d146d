#!/usr/bin/env bash
# Make sure every service the tests talk to is up: start it when installed but stopped,
# install it (Debian package) when missing. Never skip: a missing service is a failure.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do
    port_open "$port" && { log "$name is up on $port"; return 0; }
    sleep 0.5
  done
  log "$name did not come up on port $port"; return 1
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  port_open 5432 && { log "postgresql is up"; return; }
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port postgresql 5432
  su postgres -c "psql -tc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
    || su postgres -c "createdb test"
}

ensure_redis() {
  port_open 6379 && { log "redis is up"; return; }
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_port redis 6379
}

ensure_nats() {
  port_open 4222 && { log "nats is up"; return; }
  [ -x /usr/sbin/nats-server ] || apt_install nats-server
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
  wait_port nats 4222
}

ensure_mariadb() {
  port_open 3306 && { log "mariadb is up"; return; }
  [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_port mariadb 3306
}

ensure_chromium() {
  # The browser tests drive Debian's Chromium through Playwright; never a browser download.
  [ -x /usr/bin/chromium ] && { log "chromium is installed"; return; }
  apt_install chromium
  [ -x /usr/bin/chromium ] && log "chromium installed"
}

ensure_cjk_fonts() {
  # Chinese (zh-CN) screens in the browser tests need CJK glyphs: without a font every
  # character is an empty box in the screenshots. Debian's Noto CJK, checked through
  # fontconfig; a missing font after the install is a failure, never a skip.
  if fc-list :lang=zh-cn family 2>/dev/null | grep -q .; then log "CJK fonts are installed"; return; fi
  apt_install fonts-noto-cjk fontconfig
  fc-cache -f >/dev/null 2>&1 || true
  fc-list :lang=zh-cn family | grep -q . || { log "no CJK font after installing fonts-noto-cjk"; return 1; }
  log "CJK fonts installed"
}

ensure_emoji_font() {
  # The console's emoji picker (and messages with emoji) in the screenshots: without a colour
  # emoji font Chromium draws empty boxes. Debian's Noto Color Emoji, checked through fontconfig.
  if fc-list 2>/dev/null | grep -qi "Noto Color Emoji"; then log "emoji font is installed"; return; fi
  apt_install fonts-noto-color-emoji fontconfig
  fc-cache -f >/dev/null 2>&1 || true
  fc-list | grep -qi "Noto Color Emoji" || { log "no emoji font after installing fonts-noto-color-emoji"; return 1; }
  log "emoji font installed"
}

ensure_secantus() {
  # MongoDB wire-protocol test server for the CRM connector tests. GPL-2.0 and beta: a test
  # tool in its own virtualenv, never a kefu dependency (see DESIGN.md, "Test services").
  port_open 27117 && { log "secantus is up"; return; }
  local venv=${KEFU_SECANTUS_VENV:-$HOME/.cache/kefu/secantus-venv}
  if [ ! -x "$venv/bin/secantusd-py" ]; then
    if [ ! -x "$venv/bin/python" ]; then
      mkdir -p "$(dirname "$venv")"
      python3 -m venv "$venv"
    fi
    log "installing SecantusDB into $venv"
    "$venv/bin/pip" install -q "SecantusDB==0.7.0b3"
  fi
  # setsid + nohup: the server outlives this script and the shell that ran it.
  setsid nohup "$venv/bin/secantusd-py" --host 127.0.0.1 --port 27117 --storage-path :memory: \
    </dev/null >/tmp/secantusd.log 2>&1 &
  wait_port secantus 27117
}

ensure_postgres
ensure_redis
ensure_nats
ensure_mariadb
ensure_chromium
ensure_cjk_fonts
ensure_emoji_font
ensure_secantus
