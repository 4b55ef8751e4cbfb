#!/usr/bin/env bash
# Makes what a TLS farm needs, with openssl: a CA, the scheduler's certificate, worker and client
# certificates signed by it, and a token with its hash for the config.
#   deploy/make_certs.sh DIR [SCHEDULER_NAME...]
# SCHEDULER_NAME: DNS names or IP addresses the scheduler is reached by (default: localhost and
# 127.0.0.1). Writes DIR/ca.pem, DIR/scheduler.{pem,key}, DIR/worker.{pem,key} (common name
# "worker"), DIR/client.{pem,key} (common name "client"), and prints how to configure them.
# Re-running it with DIR/ca.key present keeps the CA and renews the rest (a rotation).
# Keys are unencrypted, readable by their owner only.
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR [SCHEDULER_NAME...]}
shift
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(localhost 127.0.0.1)
mkdir -p "$dir"
umask 077
days=${KFARM_CERT_DAYS:-825}

if [ ! -f "$dir/ca.key" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=kfarm CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
fi

san=""
for n in "${names[@]}"; do
  if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
san=${san%,}

# issue NAME COMMON_NAME USAGE [SAN]: a P-256 key and a certificate the CA signed.
issue() {
  local name=$1 cn=$2 usage=$3 alt=${4:-}
  local ext
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$alt" ] || echo "subjectAltName=$alt"
  } > "$ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
    -keyout "$dir/$name.key.new" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days "$days" -extfile "$ext" -out "$dir/$name.pem.new" 2>/dev/null
  rm -f "$ext" "$dir/$name.csr"
  # Key first, then certificate, each by rename: a watcher never sees a half-written file.
  mv "$dir/$name.key.new" "$dir/$name.key"
  mv "$dir/$name.pem.new" "$dir/$name.pem"
}

issue scheduler "${names[0]}" serverAuth "$san"
issue worker worker clientAuth
issue client client clientAuth

if [ ! -f "$dir/token" ]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/token"
fi
if [ ! -f "$dir/worker-token" ]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/worker-token"
fi
token_hash=$(printf %s "$(cat "$dir/token")" | sha256sum | cut -d' ' -f1)
worker_token_hash=$(printf %s "$(cat "$dir/worker-token")" | sha256sum | cut -d' ' -f1)

cat <<EOT
kfarm certificates in $dir (scheduler names: ${names[*]}).
Scheduler config (kfarm.config.SchedulerConfig):
  tls { cert_file: "$dir/scheduler.pem" key_file: "$dir/scheduler.key"
        client_ca_file: "$dir/ca.pem" }
  auth {
    tokens { principal: "ci" token_sha256: "$token_hash" }
    grants { principal: "ci" permissions: [READ, WRITE, EXECUTE, AC_WRITE] }
    grants { principal: "client" permissions: [READ, WRITE, EXECUTE] }
  }
  worker_listener { listen_address: "0.0.0.0:8981"
    tls { cert_file: "$dir/scheduler.pem" key_file: "$dir/scheduler.key"
          client_ca_file: "$dir/ca.pem" require_client_cert: true }
    token_sha256: "$worker_token_hash" }
Worker:  kfarm-worker --scheduler grpcs://${names[0]}:8981 --tls_ca_file $dir/ca.pem \\
           --tls_client_cert $dir/worker.pem --tls_client_key $dir/worker.key
Client:  kfarm --remote grpcs://${names[0]}:8980 --tls_ca_file $dir/ca.pem --token_file $dir/token ...
Bazel:   --remote_executor=grpcs://${names[0]}:8980 --tls_certificate=$dir/ca.pem \\
           --remote_header=authorization="Bearer \$(cat $dir/token)"
EOT
