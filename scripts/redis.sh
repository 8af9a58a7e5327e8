#!/usr/bin/env bash
# Redis helpers for scripts/test.sh and scripts/demo.sh (sourced, not run).

# Prints "redis://127.0.0.1:PORT" if a Redis answers PING there.
redis_ping() {
  local port=$1 line
  exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  read -r -t 2 line <&3 || true
  exec 3>&- 3<&-
  [[ "$line" == "+PONG"* ]]
}

# Starts a private redis-server on a free port in folder $1 (no persistence); prints its URL.
start_private_redis() {
  local dir=$1 port
  mkdir -p "$dir"
  port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 50); do redis_ping "$port" && break; sleep 0.1; done
  redis_ping "$port" || { echo "ainode: private redis-server did not start (see $dir/redis.log)" >&2; return 1; }
  echo "redis://127.0.0.1:$port"
}

stop_private_redis() {
  local dir=$1
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
}
