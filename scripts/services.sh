#!/usr/bin/env bash
# Start every local service the tests use that is not already listening on 127.0.0.1.
# The commands are the ones this machine kind documents; moto and the Kafka broker are
# started by the tests themselves on free loopback ports.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 200); do up "$1" && return 0; sleep 0.1; done; echo "services: $2 did not start on 127.0.0.1:$1" >&2; return 1; }
need_pkg() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }; }

if ! up 5432; then
  need_pkg pg_ctlcluster postgresql
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for 5432 postgresql
fi
if ! up 3306; then
  need_pkg mariadbd mariadb-server
  install -d -o mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --bind-address=127.0.0.1
  wait_for 3306 mariadb
fi
if ! up 6379; then
  need_pkg redis-server redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 6379 redis
fi
if ! up 5672; then
  need_pkg rabbitmq-server rabbitmq-server
  rabbitmq-server -detached
  wait_for 5672 rabbitmq
fi
if ! up 4222; then
  need_pkg nats-server nats-server
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for 4222 nats
fi
exit 0
