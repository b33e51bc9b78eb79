#!/usr/bin/env bash
# The image's premise, without a container engine: the shipped binary, built exactly as
# deploy/Dockerfile builds it (deploy/build-static.sh), runs in a root directory that holds
# nothing but itself, a config folder and a snapshot — no shell, no libraries, no CA file,
# no /tmp — as it does on `scratch`. Inside it, via `unshare --map-root-user --root`:
#
#   1. `adoport --version` prints the crate's version;
#   2. `adoport lint` finds no errors in the example config nor in the image's built-in
#      mapping (/etc/adoport/config, placed as the Dockerfile places it);
#   3. `adoport plan` (snapshot source, SQLite target under /data) shows changes (exit 2),
#      `adoport apply` writes them (exit 0), and a second `plan` finds nothing to do (exit 0):
#      SQLite works with no /tmp;
#   4. HTTPS with no CA file: the Azure DevOps client (reqwest) and the git client (gix)
#      resolve a name from /etc/hosts (as Kubernetes mounts it; no NSS library), connect to
#      a local TLS server whose certificate comes from a private CA, and reject it as an
#      unknown issuer — so each built its verifier from the roots compiled into the binary
#      (without them, the build fails with "No CA certificates were loaded from the system"
#      and no connection is made).
#
# Usage: deploy/test-empty-root.sh [BINARY]   (default: build it with deploy/build-static.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

say() { echo "test-empty-root: $*"; }
fail() {
  echo "test-empty-root: FAIL: $*" >&2
  exit 1
}

if [ $# -ge 1 ]; then
  bin="$1"
else
  bin="$(deploy/build-static.sh | tail -n 1)"
fi
[ -x "$bin" ] || fail "no binary at $bin"

mkdir -p target
work="$(mktemp -d "$repo/target/empty-root.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The root: the binary where the image has it, the example config and snapshot, an empty
# /data (the working directory, as in the image) and /etc/hosts (Kubernetes mounts one).
root="$work/root"
mkdir -p "$root/usr/local/bin" "$root/data" "$root/etc"
cp "$bin" "$root/usr/local/bin/adoport"
cp -rL examples/config-repo "$root/config"
cp -r examples/ado-snapshot "$root/snapshot"
# The image's built-in default mapping, placed as deploy/Dockerfile places it.
mkdir -p "$root/etc/adoport/config"
cp -r mappings/port-app-config.yaml mappings/blueprints "$root/etc/adoport/config/"
printf '127.0.0.1\tlocalhost\n127.0.0.1\tado.example.test git.example.test\n' >"$root/etc/hosts"
if find "$root" -name '*.so*' -o -name sh -o -name '*.crt' -o -name '*.pem' | grep -q .; then
  fail "the root holds a library, a shell or a certificate"
fi
say "root $root holds $(find "$root" -type f | wc -l) files, none a library, shell or CA file"

# Runs adoport inside the root with an empty environment plus the given assignments.
inside() {
  local envs=()
  while [ $# -gt 0 ] && [[ "$1" == *=* ]]; do
    envs+=("$1")
    shift
  done
  env -i "${envs[@]}" unshare --map-root-user --root="$root" --wd=/data /usr/local/bin/adoport "$@"
}
# Runs it and returns its exit code without stopping the script.
code_of() {
  set +e
  inside "$@" >"$work/out" 2>&1
  local code=$?
  set -e
  echo "$code"
}

# 1. --version
version="$(inside --version 2>&1)" || fail "--version did not run inside the root: $version"
want="adoport $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
[ "$version" = "$want" ] || fail "--version printed '$version', not '$want'"
say "ok: --version prints '$version'"

# 2. lint: the example config, and the image's built-in mapping.
for config in /config /etc/adoport/config; do
  code="$(code_of lint "$config")"
  [ "$code" = 0 ] || { cat "$work/out" >&2; fail "lint $config exited $code"; }
  say "ok: lint $config exits 0"
done

# 3. plan, apply, plan against SQLite under /data.
run=(--config /config --source snapshot:/snapshot --target sqlite:/data/catalog.sqlite)
code="$(code_of plan "${run[@]}")"
[ "$code" = 2 ] || { cat "$work/out" >&2; fail "the first plan exited $code, not 2 (changes)"; }
grep -q '^Plan: [1-9][0-9]* to create' "$work/out" || { cat "$work/out" >&2; fail "the first plan shows nothing to create"; }
say "ok: plan exits 2: $(grep '^Plan:' "$work/out")"
code="$(code_of apply "${run[@]}")"
[ "$code" = 0 ] || { cat "$work/out" >&2; fail "apply exited $code"; }
say "ok: apply exits 0: $(grep '^Applied:' "$work/out")"
code="$(code_of plan "${run[@]}")"
[ "$code" = 0 ] || { cat "$work/out" >&2; fail "the plan after apply exited $code, not 0"; }
[ -s "$root/data/catalog.sqlite" ] || fail "no catalog at /data/catalog.sqlite"
say "ok: plan after apply exits 0 (catalog $(du -h "$root/data/catalog.sqlite" | cut -f1))"

# 4. HTTPS with no CA file. A private CA and a leaf for both names, served on loopback by
#    a TLS server that records how each handshake ended.
tls="$work/tls"
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=adoport test CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=ado.example.test" \
  -keyout "$tls/leaf.key" -out "$tls/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:ado.example.test,DNS:git.example.test\nbasicConstraints=CA:FALSE\n' >"$tls/ext"
openssl x509 -req -in "$tls/leaf.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
  -days 1 -extfile "$tls/ext" -out "$tls/leaf.pem" 2>/dev/null
python3 -u - "$tls/leaf.pem" "$tls/leaf.key" >"$tls/server.log" 2>&1 <<'EOF' &
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print("port", s.getsockname()[1])
while True:
    c, _ = s.accept()
    c.settimeout(10)
    try:
        ctx.wrap_socket(c, server_side=True)
        print("handshake completed")
    except (ssl.SSLError, OSError) as e:
        print("handshake refused by the client:", getattr(e, "reason", e))
    finally:
        c.close()
EOF
server_pid=$!
for _ in $(seq 50); do
  grep -q '^port ' "$tls/server.log" 2>/dev/null && break
  sleep 0.1
done
port="$(sed -n 's/^port //p' "$tls/server.log")"
[ -n "$port" ] || fail "the TLS server did not start"

# gix: one fetch, no retries; its error must be the certificate's issuer.
code="$(code_of ADOPORT_GIT_TOKEN=t apply --follow "git:https://git.example.test:$port/config.git@main" --once \
  --cache-dir /data/follow --source snapshot:/snapshot --target sqlite:/data/catalog.sqlite)"
[ "$code" != 0 ] || fail "apply --follow against an untrusted server succeeded"
if grep -qi 'no CA certificates' "$work/out"; then cat "$work/out" >&2; fail "gix found no CA roots"; fi
grep -q 'UnknownIssuer' "$work/out" || { cat "$work/out" >&2; fail "gix did not reject the certificate as UnknownIssuer"; }
say "ok: git over https: the name resolved, the certificate was verified and refused (UnknownIssuer)"

# The Azure DevOps client retries a failed connection with backoff: wait for its first
# handshake to be refused, then stop it.
before="$(grep -c '^handshake refused by the client' "$tls/server.log" || true)"
env -i AZURE_DEVOPS_ORG_URL="https://ado.example.test:$port/org" AZURE_DEVOPS_PAT=p \
  unshare --map-root-user --root="$root" --wd=/data /usr/local/bin/adoport \
  fetch --kinds project --out /data/fetched >"$work/fetch.out" 2>&1 &
fetch_pid=$!
refused=""
for _ in $(seq 100); do
  now="$(grep -c '^handshake refused by the client' "$tls/server.log" || true)"
  if [ "$now" -gt "$before" ]; then
    refused=yes
    break
  fi
  kill -0 "$fetch_pid" 2>/dev/null || break
  sleep 0.1
done
kill "$fetch_pid" 2>/dev/null || true
wait "$fetch_pid" 2>/dev/null || true
if grep -qi 'no CA certificates' "$work/fetch.out"; then cat "$work/fetch.out" >&2; fail "the ADO client found no CA roots"; fi
[ -n "$refused" ] || { cat "$work/fetch.out" "$tls/server.log" >&2; fail "the ADO client made no TLS handshake"; }
grep -q '^handshake completed' "$tls/server.log" && fail "a client trusted the private CA"
say "ok: Azure DevOps over https: the name resolved, the handshake reached the certificate and the client refused it"

say "all checks passed"
