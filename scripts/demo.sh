#!/usr/bin/env bash
# The whole product on loopback: a throwaway user CA, a user key with a
# 15-minute certificate, a real OpenSSH sshd as target "demo-host" that
# trusts only the key the bastion holds, a throwaway PostgreSQL cluster as
# target "demo-db" (password only the bastion knows, a customers table whose
# email column is masked), and bastiond in front of them.
# Prints the ssh lines to type. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
./scripts/setup.sh >/dev/null

DEMO="$ROOT/demo"
rm -rf "$DEMO"
mkdir -p "$DEMO/keys" "$DEMO/target"
K="$DEMO/keys"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BASTION_PORT="${BASTION_PORT:-$(free_port)}"
TARGET_PORT="${TARGET_PORT:-$(free_port)}"
PG_PORT="${PG_PORT:-$(free_port)}"
WEB_PORT="${WEB_PORT:-$(free_port)}"
USER_NAME="$(id -un)"

ssh-keygen -q -t ed25519 -N '' -C "demo user CA" -f "$K/user_ca"
ssh-keygen -q -t ed25519 -N '' -C "bastion host key" -f "$K/bastion_host_key"
ssh-keygen -q -t ed25519 -N '' -C "held by the bastion" -f "$K/target_key"
ssh-keygen -q -t ed25519 -N '' -C "demo target host key" -f "$DEMO/target/host_key"
ssh-keygen -q -t ed25519 -N '' -C "alice" -f "$K/alice"
ssh-keygen -q -s "$K/user_ca" -I alice -n ops -V -1m:+15m "$K/alice.pub"
# carol is an analyst: on demo-db she connects as the read-only role app_ro.
ssh-keygen -q -t ed25519 -N '' -C "carol" -f "$K/carol"
ssh-keygen -q -s "$K/user_ca" -I carol -n analyst -V -1m:+15m "$K/carol.pub"
# erin is an auditor: she reads sessions and recordings on the web page.
ssh-keygen -q -t ed25519 -N '' -C "erin" -f "$K/erin"
ssh-keygen -q -s "$K/user_ca" -I erin -n auditor -V -1m:+15m "$K/erin.pub"
# bob approves; his certificate comes from the bastion's own CA.
"$ROOT/build/bastion/bastionctl" ca init "$K/bastion_ca" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C "bob" -f "$K/bob"
"$ROOT/build/bastion/bastionctl" cert issue --ca "$K/bastion_ca" --identity bob --principals ops,oncall,dba-lead \
  --ttl 15m "$K/bob.pub" >/dev/null

# The target: a real sshd on loopback that trusts only the bastion's key.
cp "$K/target_key.pub" "$DEMO/target/authorized_keys"
chmod 600 "$DEMO/target/authorized_keys"
cat > "$DEMO/target/sshd_config" <<CONF
Port $TARGET_PORT
ListenAddress 127.0.0.1
HostKey $DEMO/target/host_key
AuthorizedKeysFile $DEMO/target/authorized_keys
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

cp "$ROOT/policies/default.lua" "$ROOT/policies/commands.lua" "$ROOT/policies/postgres.lua" "$DEMO/"
cat > "$DEMO/bastion.conf" <<CONF
-- Demo configuration; see bastion.conf(5) and bastion-policy(5).
policy       = "default.lua"
listen       = "127.0.0.1:$BASTION_PORT"
host_keys    = { "keys/bastion_host_key" }
user_ca_keys = { "keys/user_ca.pub", "keys/bastion_ca.pub" }
approvals    = { timeout = 300 }
data_dir     = "data"
retention    = "90d"
-- The auditors' page (self-signed certificate in data/ at first start).
web_listen         = "127.0.0.1:$WEB_PORT"
auditor_principals = { "auditor" }
targets = {
  ["demo-host"] = { type = "ssh", host = "127.0.0.1", port = $TARGET_PORT, user = "$USER_NAME",
                    identity = "keys/target_key", known_hosts = "keys/known_hosts",
                    allow = { "ops" }, labels = { env = "prod" } },
  ["demo-db"] = { type = "postgres", host = "127.0.0.1", port = $PG_PORT, dbname = "postgres",
                  user = "postgres", password_file = "keys/demo-db.password", sslmode = "disable",
                  -- postgres.lua gives analysts this one: PostgreSQL refuses their writes.
                  credentials = { readonly = { user = "app_ro", password_file = "keys/demo-db-ro.password" } },
                  allow = { "ops", "analyst" }, policy = "postgres.lua" },
}
CONF

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
/usr/sbin/sshd -D -f "$DEMO/target/sshd_config" -E "$DEMO/target/sshd.log" &
pids+=($!)
"${as_pg[@]}" "$PGBIN/postgres" -D "$PGDIR/data" -p "$PG_PORT" -k "$PGDIR/sock" \
  -c listen_addresses=127.0.0.1 > "$PGDIR/postgres.log" 2>&1 &
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
check_out=$("$ROOT/build/bastion/bastiond" --check --config "$DEMO/bastion.conf" 2>&1 >/dev/null) || {
  echo "$check_out" >&2
  exit 1
}
"$ROOT/build/bastion/bastiond" --config "$DEMO/bastion.conf" 2> "$DEMO/bastiond.log" &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$BASTION_PORT") 2>/dev/null && break
  sleep 0.1
done
# Pin the audit key bastiond made at its first start (what an admin does once):
# from now on bastiond refuses any other key, and `bastionctl verify` trusts
# the public key in data/ only while it is this one.
for _ in $(seq 50); do [ -s "$DEMO/data/audit_signing_key.pub" ] && break; sleep 0.1; done
"$ROOT/build/bastion/bastiond" --check --config "$DEMO/bastion.conf" 2>&1 >/dev/null |
  sed -n 's/^bastiond: warning: pin the audit key: //p' >> "$DEMO/bastion.conf"

S="ssh -i $K/alice -o UserKnownHostsFile=$DEMO/bastion_known_hosts -p $BASTION_PORT"
B="ssh -i $K/bob -o UserKnownHostsFile=$DEMO/bastion_known_hosts -p $BASTION_PORT"
C="ssh -i $K/carol -o UserKnownHostsFile=$DEMO/bastion_known_hosts -p $BASTION_PORT"
E="ssh -i $K/erin -o UserKnownHostsFile=$DEMO/bastion_known_hosts -p $BASTION_PORT"
cat <<MSG

bastiond is listening on 127.0.0.1:$BASTION_PORT in front of target "demo-host"
(a real sshd on 127.0.0.1:$TARGET_PORT) and target "demo-db" (PostgreSQL on
127.0.0.1:$PG_PORT; only the bastion knows its password). alice's certificate
is valid for 15 minutes.

  Run a command:      $S demo-host@127.0.0.1 uname -a
  Interactive shell:  $S -t demo-host@127.0.0.1
  File transfer:      sftp -i $K/alice -o UserKnownHostsFile=$DEMO/bastion_known_hosts -P $BASTION_PORT demo-host@127.0.0.1
  Refused (no such target):  $S nowhere@127.0.0.1 true
  Denied by policy:   $S demo-host@127.0.0.1 'ls /tmp; rm -rf /tmp/x'
  Held for review:    $S demo-host@127.0.0.1 sudo id     (it waits; from another terminal:)
    as bob:           $B approvals@127.0.0.1 list
                      $B approvals@127.0.0.1 approve N   (or: deny N --reason why)

  SQL console:        $S demo-db@127.0.0.1            (try \\dt, \\x, SELECT * FROM customers;)
  Masked columns:     $S demo-db@127.0.0.1 'SELECT name, email FROM customers'
  As CSV:             $S demo-db@127.0.0.1 -- --csv 'SELECT * FROM orders'
  Denied statement:   $S demo-db@127.0.0.1 'DELETE FROM orders'
  Held for review:    $S demo-db@127.0.0.1 'DROP TABLE orders'   (bob may approve it too)
  As an analyst:      $C demo-db@127.0.0.1 'SELECT current_user'   (app_ro: the database refuses writes)

Auditors (erin):
  Web page:     $E audit@127.0.0.1 login      (prints a one-time https URL; the certificate is self-signed)
  Sessions:     $ROOT/build/bastion/bastionctl audit sessions --config $DEMO/bastion.conf --since 1h
  Commands:     $ROOT/build/bastion/bastionctl audit commands --config $DEMO/bastion.conf --grep rm
  One session:  $ROOT/build/bastion/bastionctl session show ID --config $DEMO/bastion.conf
  Replay:       $ROOT/build/bastion/bastionctl recording play FILE   (space pauses, n/p markers, q quits)
  Verify:       $ROOT/build/bastion/bastionctl verify --config $DEMO/bastion.conf --all
Policy:       $DEMO/default.lua, $DEMO/postgres.lua (edit them: bastiond reloads within a second)
Bastion log:  $DEMO/bastiond.log

Ctrl-C stops everything.
MSG
wait
