#!/usr/bin/env bash
# A throwaway nginx on 127.0.0.1 serving one directory (demo and benchmarks).
#   scripts/local_nginx.sh start ROOT STATE_DIR   -> prints the base URL
#   scripts/local_nginx.sh stop STATE_DIR
# All nginx state (config, pid, logs, temp paths) lives in STATE_DIR. Files are
# also served under /limited/ with a per-connection cap of LIMIT_RATE (nginx
# limit_rate syntax, default 20m = 20 MiB/s).
set -euo pipefail
cmd=${1:?start|stop}
case "$cmd" in
  start)
    root=$(realpath "${2:?ROOT}")
    state=$(mkdir -p "${3:?STATE_DIR}" && realpath "$3")
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$state/nginx.conf" <<CONF
worker_processes 1;
pid $state/nginx.pid;
error_log $state/error.log;
events { worker_connections 64; }
http {
  access_log $state/access.log;
  client_body_temp_path $state/tmp_body;
  proxy_temp_path $state/tmp_proxy;
  fastcgi_temp_path $state/tmp_fastcgi;
  uwsgi_temp_path $state/tmp_uwsgi;
  scgi_temp_path $state/tmp_scgi;
  sendfile on;
  server {
    listen 127.0.0.1:$port;
    root $root;
    location / { autoindex off; }
    # The same files under a per-connection cap (LIMIT_RATE, default 20m), as CDNs and proxies impose.
    location /limited/ { alias $root/; limit_rate ${LIMIT_RATE:-20m}; }
  }
}
CONF
    /usr/sbin/nginx -c "$state/nginx.conf" -p "$state" 2>>"$state/error.log"
    for _ in $(seq 50); do
      curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
      curl -sS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
      sleep 0.1
    done
    echo "http://127.0.0.1:$port"
    ;;
  stop)
    state=${2:?STATE_DIR}
    if [ -f "$state/nginx.pid" ]; then
      pid=$(cat "$state/nginx.pid")
      kill -QUIT "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$state/nginx.pid"
    fi
    ;;
  *) echo "usage: $0 start ROOT STATE_DIR | stop STATE_DIR" >&2; exit 2 ;;
esac
