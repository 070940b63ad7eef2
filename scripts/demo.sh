#!/usr/bin/env bash
# The whole product on loopback: a throwaway user CA, a user key with a
# 15-minute certificate, a real OpenSSH sshd as target "demo-host" that
# trusts only the key the bastion holds, and bastiond in front of it.
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
USER_NAME="$(id -un)"

ssh-keygen -q -t ed25519 -N '' -C "demo user CA" -f "$K/user_ca"
ssh-keygen -q -t ed25519 -N '' -C "bastion host key" -f "$K/bastion_host_key"
ssh-keygen -q -t ed25519 -N '' -C "held by the bastion" -f "$K/target_key"
ssh-keygen -q -t ed25519 -N '' -C "demo target host key" -f "$DEMO/target/host_key"
ssh-keygen -q -t ed25519 -N '' -C "alice" -f "$K/alice"
ssh-keygen -q -s "$K/user_ca" -I alice -n ops -V -1m:+15m "$K/alice.pub"

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

cp "$ROOT/policies/default.lua" "$ROOT/policies/commands.lua" "$DEMO/"
cat > "$DEMO/bastion.conf" <<CONF
-- Demo configuration; see bastion.conf(5) and bastion-policy(5).
policy       = "default.lua"
listen       = "127.0.0.1:$BASTION_PORT"
host_keys    = { "keys/bastion_host_key" }
user_ca_keys = { "keys/user_ca.pub" }
data_dir     = "data"
targets = {
  ["demo-host"] = { type = "ssh", host = "127.0.0.1", port = $TARGET_PORT, user = "$USER_NAME",
                    identity = "keys/target_key", known_hosts = "keys/known_hosts",
                    allow = { "ops" }, labels = { env = "prod" } },
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
"$ROOT/build/bastion/bastiond" --check --config "$DEMO/bastion.conf" >/dev/null
"$ROOT/build/bastion/bastiond" --config "$DEMO/bastion.conf" 2> "$DEMO/bastiond.log" &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$BASTION_PORT") 2>/dev/null && break
  sleep 0.1
done

S="ssh -i $K/alice -o UserKnownHostsFile=$DEMO/bastion_known_hosts -p $BASTION_PORT"
cat <<MSG

bastiond is listening on 127.0.0.1:$BASTION_PORT in front of target "demo-host"
(a real sshd on 127.0.0.1:$TARGET_PORT). alice's certificate is valid for 15 minutes.

  Run a command:      $S demo-host@127.0.0.1 uname -a
  Interactive shell:  $S -t demo-host@127.0.0.1
  File transfer:      sftp -i $K/alice -o UserKnownHostsFile=$DEMO/bastion_known_hosts -P $BASTION_PORT demo-host@127.0.0.1
  Refused (no such target):  $S nowhere@127.0.0.1 true
  Denied by policy:   $S demo-host@127.0.0.1 'ls /tmp; rm -rf /tmp/x'
  Held for review:    $S demo-host@127.0.0.1 sudo id

Recordings:   ls $DEMO/data/recordings/*/
Replay one:   $ROOT/build/bastion/bastionctl recording play FILE   (or: asciinema play FILE)
Audit:        $ROOT/build/bastion/bastionctl audit commands --db $DEMO/data/audit.db
Policy:       $DEMO/default.lua (edit it: bastiond reloads it within a second)
Bastion log:  $DEMO/bastiond.log

Ctrl-C stops everything.
MSG
wait
