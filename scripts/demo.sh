#!/usr/bin/env bash
# The whole product on loopback: a throwaway user CA, a user key with an
# 8-hour certificate, a real OpenSSH sshd as target "demo-host" that
# trusts only the bastion's target CA (no standing key: bastiond mints a
# 5-minute certificate per connection), a throwaway PostgreSQL cluster as
# target "demo-db" (password only the bastion knows, a customers table whose
# email column is masked), and bastiond in front of them.
# Prints the ssh lines to type (short ones: demo/ssh_config names the bastion).
# Ctrl-C stops everything it started. A previous run's data (recordings, audit
# store, logs) is moved to demo/previous/, never deleted.
#   BASTION_DEMO_DIR=DIR      where the demo lives (default: demo/ in the checkout)
#   BASTION_DEMO_SKIP_SETUP=1 do not run scripts/setup.sh (the build exists)
#   BASTION_BUILD=DIR         the build to run (default: build/)
set -euo pipefail
ORIG_PWD="$PWD"
cd "$(dirname "$0")/.."
ROOT="$PWD"
say() { printf 'demo: %s\n' "$*" >&2 2>/dev/null || true; }
# Paths as the user should type them: relative to where the demo was started.
rel() {
  local r
  r="$(realpath -m -s --relative-to="$ORIG_PWD" "$1")"
  case "$r" in ..*) realpath -m -s "$1" ;; *) echo "$r" ;; esac
}

if [ "${BASTION_DEMO_SKIP_SETUP:-0}" != 1 ]; then
  say "[1/4] packages and build (scripts/setup.sh; the first run takes several minutes)"
  ./scripts/setup.sh >/dev/null
fi

DEMO="$(realpath -m "${BASTION_DEMO_DIR:-$ROOT/demo}")"
if [ -f "$DEMO/demo.pid" ] && kill -0 "$(cat "$DEMO/demo.pid")" 2>/dev/null; then
  say "another demo is running from $(rel "$DEMO") (pid $(cat "$DEMO/demo.pid")); stop it first (Ctrl-C there)"
  exit 1
fi
if [ -d "$DEMO" ] && [ -n "$(ls -A "$DEMO" | grep -vx previous || true)" ]; then
  kept="$DEMO/previous/$(date -u +%Y-%m-%dT%H-%M-%SZ)"
  mkdir -p "$kept"
  for f in "$DEMO"/* "$DEMO"/.[!.]*; do
    [ -e "$f" ] && [ "$f" != "$DEMO/previous" ] && mv "$f" "$kept/"
  done
  rm -f "$kept/demo.pid"
  say "the previous run (recordings, audit store, logs) is kept in $(rel "$kept")"
fi
mkdir -p "$DEMO/keys" "$DEMO/target"
echo $$ > "$DEMO/demo.pid"
K="$DEMO/keys"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BASTION_PORT="${BASTION_PORT:-$(free_port)}"
TARGET_PORT="${TARGET_PORT:-$(free_port)}"
PG_PORT="${PG_PORT:-$(free_port)}"
WEB_PORT="${WEB_PORT:-$(free_port)}"
REGISTRY_PORT="${REGISTRY_PORT:-$(free_port)}"
FORWARD_PORT="${FORWARD_PORT:-$(free_port)}"
PG_FORWARD_PORT="${PG_FORWARD_PORT:-$(free_port)}"
USER_NAME="$(id -un)"
BUILD="$(realpath -m "${BASTION_BUILD:-$ROOT/build}")"
CTL="$BUILD/bastion/bastionctl"
VALID=8h

say "[2/4] keys and certificates"
ssh-keygen -q -t ed25519 -N '' -C "demo user CA" -f "$K/user_ca"
ssh-keygen -q -t ed25519 -N '' -C "bastion host key" -f "$K/bastion_host_key"
# No standing key on the target: it trusts the bastion's target CA, and
# bastiond mints a key and a 5-minute certificate for each onward connection.
"$CTL" ca init "$K/target_ca" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C "demo target host key" -f "$DEMO/target/host_key"
ssh-keygen -q -t ed25519 -N '' -C "alice" -f "$K/alice"
ssh-keygen -q -s "$K/user_ca" -I alice -n ops -V -1m:+$VALID "$K/alice.pub"
# carol is an analyst: on demo-db she connects as the read-only role app_ro.
ssh-keygen -q -t ed25519 -N '' -C "carol" -f "$K/carol"
ssh-keygen -q -s "$K/user_ca" -I carol -n analyst -V -1m:+$VALID "$K/carol.pub"
# erin is an auditor: she reads sessions and recordings on the web page.
ssh-keygen -q -t ed25519 -N '' -C "erin" -f "$K/erin"
ssh-keygen -q -s "$K/user_ca" -I erin -n auditor -V -1m:+$VALID "$K/erin.pub"
# bob approves; his certificate comes from the bastion's own CA.
ssh-keygen -q -t ed25519 -N '' -C "ci job" -f "$K/ci"
"$CTL" ca init "$K/bastion_ca" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C "bob" -f "$K/bob"
"$CTL" cert issue --ca "$K/bastion_ca" --identity bob --principals ops,oncall,dba-lead \
  --ttl $VALID "$K/bob.pub" >/dev/null

say "[3/4] target sshd and PostgreSQL"
# The target: a real sshd on loopback that trusts only the bastion's target CA.
cat > "$DEMO/target/sshd_config" <<CONF
Port $TARGET_PORT
ListenAddress 127.0.0.1
HostKey $DEMO/target/host_key
AuthorizedKeysFile none
TrustedUserCAKeys $K/target_ca.pub
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $DEMO/target/sshd.pid
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
CONF
echo "[127.0.0.1]:$TARGET_PORT $(cat "$DEMO/target/host_key.pub")" > "$K/known_hosts"
# What the user's ssh should trust: the bastion's host key.
echo "[127.0.0.1]:$BASTION_PORT $(cat "$K/bastion_host_key.pub")" > "$DEMO/bastion_known_hosts"

# The database: initdb'd here, run as an unprivileged user (PostgreSQL
# refuses root), reachable only on loopback with a password the bastion holds.
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PGDIR="$DEMO/pg"
mkdir -p "$PGDIR/sock"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  PG_USER=postgres
  id "$PG_USER" >/dev/null 2>&1 || PG_USER=nobody
  chown -R "$PG_USER" "$PGDIR"
  chmod 755 "$DEMO"
  as_pg=(runuser -u "$PG_USER" --)
fi
PG_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$PG_PASSWORD" > "$K/demo-db.password"
chmod 600 "$K/demo-db.password"
RO_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$RO_PASSWORD" > "$K/demo-db-ro.password"
chmod 600 "$K/demo-db-ro.password"
printf '%s\n' "$PG_PASSWORD" > "$PGDIR/pwfile"
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$PGDIR/pwfile"
"${as_pg[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A scram-sha-256 --pwfile="$PGDIR/pwfile" \
  -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
rm -f "$PGDIR/pwfile"

# An OCI registry (docker-registry: TLS, htpasswd) whose password only the
# bastion holds, and a small image for the CI example to push.
REG="$DEMO/registry"
mkdir -p "$REG/storage"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$REG/key.pem" -out "$REG/cert.pem" \
  -days 30 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
REG_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$REG_PASSWORD" > "$K/registry.password"
chmod 600 "$K/registry.password"
REG_PASSWORD="$REG_PASSWORD" /usr/bin/python3 -c 'import bcrypt, os
print("ci:" + bcrypt.hashpw(os.environ["REG_PASSWORD"].encode(), bcrypt.gensalt()).decode())' > "$REG/htpasswd"
cat > "$REG/config.yml" <<CONF
version: 0.1
log: { level: info, accesslog: { disabled: false } }
storage: { filesystem: { rootdirectory: $REG/storage }, delete: { enabled: true } }
http: { addr: "127.0.0.1:$REGISTRY_PORT", secret: "$(head -c 18 /dev/urandom | base64)",
        tls: { certificate: $REG/cert.pem, key: $REG/key.pem } }
auth: { htpasswd: { realm: demo-registry, path: $REG/htpasswd } }
CONF
PYTHONPATH="$ROOT/tests/integration" /usr/bin/python3 -c 'import sys, registry_fixture as r
r.make_image(sys.argv[1], "1.2", text="built by the demo CI job\n")' "$DEMO/image"

cp "$ROOT/policies/default.lua" "$ROOT/policies/commands.lua" "$ROOT/policies/postgres.lua" \
  "$ROOT/policies/registry.lua" "$DEMO/"
cat > "$DEMO/bastion.conf" <<CONF
-- Demo configuration; see bastion.conf(5) and bastion-policy(5).
policy       = "default.lua"
listen       = "127.0.0.1:$BASTION_PORT"
host_keys    = { "keys/bastion_host_key" }
user_ca_keys = { "keys/user_ca.pub", "keys/bastion_ca.pub" }
approvals    = { timeout = "5m" }
renew_hint   = "scripts/demo.sh printed the ssh-keygen line that renews it"
data_dir     = "data"
retention    = "90d"
-- The auditors' page (self-signed certificate in data/ at first start).
web_listen         = "127.0.0.1:$WEB_PORT"
auditor_principals = { "auditor" }
targets = {
  ["demo-host"] = { type = "ssh", host = "127.0.0.1", port = $TARGET_PORT, user = "$USER_NAME",
                    ca = "keys/target_ca", ttl = "5m", known_hosts = "keys/known_hosts",
                    allow = { "ops" }, labels = { env = "prod" } },
  ["demo-db"] = { type = "postgres", host = "127.0.0.1", port = $PG_PORT, dbname = "postgres",
                  user = "postgres", password_file = "keys/demo-db.password", sslmode = "disable",
                  -- postgres.lua gives analysts this one: PostgreSQL refuses their writes.
                  credentials = { readonly = { user = "app_ro", password_file = "keys/demo-db-ro.password" } },
                  allow = { "ops", "analyst" }, policy = "postgres.lua" },
  -- An OCI registry: each request decided by registry.lua, pushed with the held password.
  registry = { type = "http", url = "https://127.0.0.1:$REGISTRY_PORT", ca_file = "registry/cert.pem",
               registry = true, basic = { user = "ci", password_file = "keys/registry.password" },
               allow = { "ops", "ci-push" }, approvers = { "oncall" }, policy = "registry.lua" },
}
CONF

pids=()
# Stops what the demo started even when nobody reads its output any more
# (stdout closed, a terminal gone): kill first, then say so if anyone listens.
cleanup() {
  local rc=$?
  trap - INT TERM HUP PIPE EXIT
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -f "$DEMO/demo.pid"
  printf '\ndemo: stopped; everything is kept in %s\n' "$(rel "$DEMO")" >&2 2>/dev/null
  exit "$rc"
}
trap cleanup INT TERM HUP PIPE EXIT

[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
/usr/sbin/sshd -D -f "$DEMO/target/sshd_config" -E "$DEMO/target/sshd.log" &
pids+=($!)
"${as_pg[@]}" "$PGBIN/postgres" -D "$PGDIR/data" -p "$PG_PORT" -k "$PGDIR/sock" \
  -c listen_addresses=127.0.0.1 > "$PGDIR/postgres.log" 2>&1 &
pids+=($!)
docker-registry serve "$REG/config.yml" > "$REG/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'SELECT 1' postgres >/dev/null 2>&1 && break
  sleep 0.1
done
PGPASSWORD="$PG_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text, plan text);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace', 'ada@example.com', '123-45-6789', 'pro'),
  (2, 'Alan Turing', 'alan@example.org', '987-65-4321', 'free'),
  (3, 'Grace Hopper', NULL, NULL, 'pro');
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2));
INSERT INTO orders VALUES (10, 1, 99.90), (11, 2, 5.00), (12, 1, 12.00);
SQL
# The analysts' role: it can read and nothing else (bastion-policy(5)): SELECT
# on the tables only, no CREATE on the schema, no TEMP on the database, not a
# superuser, no BYPASSRLS. Read-only transactions by default as well, but the
# grants are the boundary.
PGPASSWORD="$PG_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 -v ro_password="$RO_PASSWORD" -h 127.0.0.1 -p "$PG_PORT" \
  -U postgres postgres <<'SQL'
CREATE ROLE app_ro LOGIN PASSWORD :'ro_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
GRANT CONNECT ON DATABASE postgres TO app_ro;
ALTER ROLE app_ro SET default_transaction_read_only = on;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO app_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO app_ro;
SQL
# Warnings (the audit key is pinned below, once bastiond has made it) only
# matter when the check fails.
check_out=$("$BUILD/bastion/bastiond" --check --config "$DEMO/bastion.conf" 2>&1 >/dev/null) || {
  echo "$check_out" >&2
  exit 1
}
say "[4/4] bastiond"
"$BUILD/bastion/bastiond" --config "$DEMO/bastion.conf" > /dev/null 2> "$DEMO/bastiond.log" &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$BASTION_PORT") 2>/dev/null && break
  sleep 0.1
done
# Pin the audit key bastiond made at its first start (what an admin does once):
# from now on bastiond refuses any other key, and `bastionctl verify` trusts
# the public key in data/ only while it is this one.
for _ in $(seq 50); do [ -s "$DEMO/data/audit_signing_key.pub" ] && break; sleep 0.1; done
"$BUILD/bastion/bastiond" --check --config "$DEMO/bastion.conf" 2>&1 >/dev/null |
  sed -n 's/^bastiond: warning: pin the audit key: //p' >> "$DEMO/bastion.conf"

# Short lines to type: one Host per person, all on this bastion.
cat > "$DEMO/ssh_config" <<CONF
# Generated by scripts/demo.sh: ssh -F $(rel "$DEMO/ssh_config") TARGET@bastion [command]
Host bastion
  IdentityFile $K/alice
Host bastion-bob
  IdentityFile $K/bob
Host bastion-carol
  IdentityFile $K/carol
Host bastion-erin
  IdentityFile $K/erin
Host bastion-ci
  IdentityFile $K/ci
  ExitOnForwardFailure yes
Host bastion bastion-*
  HostName 127.0.0.1
  Port $BASTION_PORT
  UserKnownHostsFile $DEMO/bastion_known_hosts
  IdentitiesOnly yes
CONF
F="$(rel "$DEMO/ssh_config")"
D="$(rel "$DEMO")"
ln -sf "$CTL" "$DEMO/bastionctl"
C="$(rel "$DEMO/bastionctl")"
cat <<MSG

bastiond listens on 127.0.0.1:$BASTION_PORT in front of "demo-host" (a real sshd)
"demo-db" (PostgreSQL) and "registry" (an OCI registry); only the bastion knows
their passwords. alice (ops),
bob (approver), carol (analyst) and erin (auditor) have 8-hour certificates.
Renew alice's:
  ssh-keygen -s $D/keys/user_ca -I alice -n ops -V -1m:+8h $D/keys/alice.pub

A command, a shell, a file transfer, the targets alice may use:
  ssh -F $F demo-host@bastion uname -a
  ssh -F $F -t demo-host@bastion
  sftp -F $F demo-host@bastion
  ssh -F $F bastion
Denied by policy; held for review (bob decides: approve N, deny N):
  ssh -F $F demo-host@bastion 'rm -rf /tmp/x'
  ssh -F $F demo-host@bastion sudo id
  ssh -F $F approvals@bastion-bob list
SQL console (\\dt, \\x); a masked column; CSV; held for review; read-only:
  ssh -F $F demo-db@bastion
  ssh -F $F demo-db@bastion 'SELECT name, email FROM customers'
  ssh -F $F demo-db@bastion -- --csv 'SELECT * FROM orders'
  ssh -F $F demo-db@bastion 'DROP TABLE orders'
  ssh -F $F demo-db@bastion-carol 'SELECT current_user'
Any PostgreSQL client (psql, DBeaver, an ORM) through a forward, no password:
  ssh -F $F -fN -L $PG_FORWARD_PORT:demo-db:5432 demo-db@bastion
  psql "host=127.0.0.1 port=$PG_FORWARD_PORT dbname=postgres user=alice" \\
    -c 'SELECT name, email FROM customers'
A CI job pushes an image to the registry (only the bastion holds its
password): a 10-minute certificate, a tunnel, skopeo; pulls and a one-off call:
  ssh-keygen -s $D/keys/user_ca -I ci-job -n ci-push -V +10m $D/keys/ci.pub
  ssh -F $F -fN -L $FORWARD_PORT:registry:443 registry@bastion-ci
  skopeo copy --dest-tls-verify=false oci:$D/image:1.2 \\
    docker://127.0.0.1:$FORWARD_PORT/app:1.2
  ssh -F $F registry@bastion GET /v2/_catalog
Auditors (erin): the web page (a one-time https URL), search, replay, verify:
  ssh -F $F audit@bastion-erin login
  $C audit sessions --config $D/bastion.conf --since 1h
  $C audit commands --config $D/bastion.conf --grep rm
  $C session show ID --config $D/bastion.conf
  $C recording play FILE      (space pauses, n/p markers, q quits)
  $C verify --config $D/bastion.conf --all

Policies: $D/default.lua, $D/postgres.lua, $D/registry.lua
(reloaded within a second)
Log: $D/bastiond.log. Ctrl-C stops everything; $D/ is kept.
MSG
wait
