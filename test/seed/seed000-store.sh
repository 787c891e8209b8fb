#!/usr/bin/env bash
# The store commands of seed 000 (HECD 架构), run inside a private network
# namespace where the address the seed uses, 172.31.19.162, belongs to that
# namespace's own loopback interface (nothing outside it is reached). Changes from the seed, and only these: the data
# directory is a temporary one instead of '/data', "localhost" and the
# seed's other example host become 172.31.19.162 (the seed's server only
# listens there), and `etcd` is hecd through a symlink.
# Environment: SEED_HECD_BIN (the binary), WORK (a scratch directory).
set -u
ip link set lo up
ip addr add 172.31.19.162/32 dev lo

mkdir -p "$WORK/bin"
ln -sf "$SEED_HECD_BIN" "$WORK/bin/etcd"
export PATH="$WORK/bin:$PATH"
cd "$WORK"

step() { echo "=== $1"; }

step version
etcd -version; echo "exit $?"

step start
nohup etcd  --data-dir "$WORK/data"  --listen-peer-urls 'http://172.31.19.162:2380,http://172.31.19.162:7001' --listen-client-urls 'http://172.31.19.162:2379,http://172.31.19.162:4001' --initial-advertise-peer-urls 'http://172.31.19.162:2380,http://172.31.19.162:7001' --initial-cluster 'default=http://172.31.19.162:2380,default=http://172.31.19.162:7001'  --advertise-client-urls 'http://172.31.19.162:2379,http://172.31.19.162:4001' > "$WORK/etcd.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
  curl -s http://172.31.19.162:2379/health 2>/dev/null | grep -q '"health":"true"' && break
  sleep 0.1
done
echo "health $(curl -s http://172.31.19.162:2379/health)"
echo "health4001 $(curl -s http://172.31.19.162:4001/health)"
echo "machines $(curl -s http://172.31.19.162:2379/v2/machines)"
echo "members $(curl -s http://172.31.19.162:2379/v2/members)"
for p in 2380 7001; do
  if (exec 3<>/dev/tcp/172.31.19.162/$p) 2>/dev/null; then echo "peer $p listening"; else echo "peer $p closed"; fi
done

step set
curl -s -XPUT http://172.31.19.162:4001/v2/keys/app/servers/acdea7a876c8 -d value="54.222.199.254:32769"
echo

step setup-mykey
curl -s -XPUT http://172.31.19.162:4001/v2/keys/mykey -d value="this is awesome"
echo

step get
curl -s -L http://172.31.19.162:4001/v2/keys/mykey
echo

step delete
curl -s -L http://172.31.19.162:4001/v2/keys/mykey -XDELETE
echo

step delete-missing
curl -s -L http://172.31.19.162:4001/v2/keys/app/servers/kTutZ4chFqQlKCdrwQYG3Qxb1461922239 -XDELETE
echo

step list
curl -s 'http://172.31.19.162:2379/v2/keys/app/servers?recursive=true&sorted=true'
echo

kill "$pid"; wait "$pid" 2>/dev/null
step log
tail -n 20 "$WORK/etcd.log"
