#!/usr/bin/env bash
# What deploy/farm ships, checked as far as this machine can without a cluster or a booted
# systemd: the farm configs pass the binaries' own --check_config; the systemd units pass
# `systemd-analyze verify` (pointed at this build's binaries) and keep their hardening; the
# Kubernetes manifests render with `kubectl kustomize` (TLS material from deploy/make_certs.sh)
# and hang together: every Service selects a pod template, every port it targets exists, every
# volume mounted is declared, every ConfigMap and Secret named is generated, every probe hits an
# HTTP port, and the config files inside are the ones the binaries accepted. (Debian's python3,
# which has python3-yaml: another python3 first on PATH may not.)
# Usage: tests/deploy/deploy_test.sh BIN_DIR
set -euo pipefail
bin=$(cd "${1:?usage: deploy_test.sh BIN_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
farm="$root/deploy/farm"
work=$(mktemp -d /tmp/kfarm-deploy.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "not ok - $*" >&2; exit 1; }

# 1. The configs, as the binaries read them.
"$bin/kfarm-scheduler" --config="$farm/scheduler.conf" --check_config >/dev/null ||
  fail "deploy/farm/scheduler.conf is refused"
"$bin/kfarm-worker" --config="$farm/worker.conf" --check_config >/dev/null ||
  fail "deploy/farm/worker.conf is refused"
# The check is real: a config the scheduler would refuse to serve is refused here too.
# (Without its tls and auth blocks: anyone reaching 0.0.0.0 could read, write and run anything.)
sed '/^tls {/,/^}/d; /^auth {/,/^}/d' "$farm/scheduler.conf" >"$work/open.conf"
if "$bin/kfarm-scheduler" --config="$work/open.conf" --check_config >/dev/null 2>"$work/open.err"; then
  fail "--check_config accepted a farm on 0.0.0.0 with neither TLS nor auth"
fi
grep -q "refusing to serve 0.0.0.0:8980" "$work/open.err" || fail "the refusal does not say why: $(cat "$work/open.err")"
echo "ok - deploy/farm's configs pass --check_config (and an exposed, open one does not)"

# 2. systemd: verify the units against this build's binaries.
mkdir -p "$work/units"
for unit in "$farm"/systemd/*.service; do
  sed "s|/usr/local/bin/|$bin/|g" "$unit" >"$work/units/$(basename "$unit")"
done
if ! systemd-analyze verify "$work"/units/*.service >"$work/verify.log" 2>&1; then
  cat "$work/verify.log" >&2
  fail "systemd-analyze verify failed"
fi
if grep -E "kfarm-(scheduler|worker)\.service" "$work/verify.log"; then
  fail "systemd-analyze verify warned about the units"
fi
for key in NoNewPrivileges=yes ProtectSystem=strict CapabilityBoundingSet= SystemCallFilter=@system-service \
           RestrictNamespaces=yes MemoryDenyWriteExecute=yes; do
  grep -qx "$key" "$farm/systemd/kfarm-scheduler.service" || fail "the scheduler unit lost $key"
done
for key in ProtectSystem=full PrivateTmp=yes ProtectKernelModules=yes KillSignal=SIGTERM; do
  grep -qx "$key" "$farm/systemd/kfarm-worker.service" || fail "the worker unit lost $key"
done
# Bubblewrap needs namespaces, mounts and (for a setuid bwrap) privilege changes.
for key in RestrictNamespaces PrivateUsers SystemCallFilter NoNewPrivileges; do
  grep -q "^$key=" "$farm/systemd/kfarm-worker.service" && fail "the worker unit sets $key, which breaks bubblewrap"
done
echo "ok - systemd-analyze verify passes both units"

# 3. Kubernetes: render, then check the objects against each other.
cp -r "$farm" "$work/farm"
rm -rf "$work/farm/tls"
bash "$root/deploy/make_certs.sh" "$work/farm/tls" kfarm-scheduler kfarm-scheduler.kfarm.svc >/dev/null
kubectl kustomize "$work/farm" >"$work/rendered.yaml" 2>"$work/kustomize.err" ||
  fail "kubectl kustomize deploy/farm: $(cat "$work/kustomize.err")"
"${KFARM_PYTHON:-/usr/bin/python3}" - "$work/rendered.yaml" "$farm" <<'PY' || fail "the rendered manifests do not hang together"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
farm = sys.argv[2]
errors = []
by_kind = {}
for d in docs:
    for field in ("apiVersion", "kind", "metadata"):
        if field not in d:
            errors.append(f"an object has no {field}: {d}")
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "kfarm":
        errors.append(f'{d["kind"]}/{d["metadata"]["name"]} is not in namespace kfarm')
for kind in ("Namespace", "Service", "StatefulSet", "Deployment", "ConfigMap", "Secret"):
    if kind not in by_kind:
        errors.append(f"no {kind} rendered")
workloads = list(by_kind.get("StatefulSet", {}).values()) + list(by_kind.get("Deployment", {}).values())
def pod_ports(w):
    return {p["name"]: p["containerPort"] for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
for w in workloads:
    name = w["metadata"]["name"]
    spec = w["spec"]["template"]["spec"]
    labels = w["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in w["spec"]["selector"]["matchLabels"].items()):
        errors.append(f"{name}: its selector does not match its pod template")
    claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for c in spec["containers"]:
        if c.get("image", "").split(":")[0] != "kfarm":
            errors.append(f"{name}: image {c.get('image')} is not kfarm")
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes and m["name"] not in claims:
                errors.append(f"{name}: mounts undeclared volume {m['name']}")
        for probe in ("readinessProbe", "livenessProbe"):
            port = c.get(probe, {}).get("httpGet", {}).get("port")
            if port not in pod_ports(w):
                errors.append(f"{name}: {probe} targets port {port}, which it does not expose")
    for v in volumes.values():
        if "configMap" in v and v["configMap"]["name"] not in by_kind.get("ConfigMap", {}):
            errors.append(f"{name}: ConfigMap {v['configMap']['name']} is not generated")
        if "secret" in v and v["secret"]["secretName"] not in by_kind.get("Secret", {}):
            errors.append(f"{name}: Secret {v['secret']['secretName']} is not generated")
    if name == "kfarm-scheduler" and "data" not in claims:
        errors.append("the scheduler has no persistent volume for its CAS")
for s in by_kind.get("Service", {}).values():
    matches = [w for w in workloads
               if all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in s["spec"]["selector"].items())]
    if not matches:
        errors.append(f'Service {s["metadata"]["name"]} selects no pod template')
    for p in s["spec"]["ports"]:
        if not any(p["targetPort"] in pod_ports(w) for w in matches):
            errors.append(f'Service {s["metadata"]["name"]} targets port {p["targetPort"]}, which no pod exposes')
for cm in by_kind.get("ConfigMap", {}).values():
    for key, text in cm.get("data", {}).items():
        if text != open(f"{farm}/{key}").read():
            errors.append(f"ConfigMap key {key} differs from deploy/farm/{key}")
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "ok - kubectl kustomize deploy/farm renders $(grep -c '^kind:' "$work/rendered.yaml") objects that hang together"
