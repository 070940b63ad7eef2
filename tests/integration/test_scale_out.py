"""Two bastiond instances on one PostgreSQL store, with the same host keys,
behind HAProxy in TCP mode (config generated here, on free ports): a
command held on one instance is approved by a user who landed on the other
and runs within a second (LISTEN/NOTIFY, not the 2 s poll); `bastionctl
audit sessions` against the shared store lists the sessions of both; a
grant made through one admits a session on the other; a policy pushed once
to the shared policy store (`policy = "store:scale"`) applies on both
within seconds, and a rollback restores the old one on both; `bastionctl
verify` checks the shared store as it checks SQLite (and fails on the same
tampering with the same words); each instance ships only its own
recordings to the one bucket; after a kill -9 of one, the other's tools
read and verify the recording it left."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import BASTIONCTL, Bastion, Env, free_port, run, run_showing_failure, wait_port
from pg_cluster import PostgresCluster
from test_recordings_s3 import PREFIX, S3RVER, S3Server, store_config

POLICY = r'''
function on_command(c)
  if c.kind == "access" then return nil end
  if c.text:find("^echo held") then
    return review{ reason = "held for a test", approvers = { "oncall" }, timeout = 60 }
  end
  if c.text:find("^echo grant") then
    return allow{ reason = c.grant and ("grant " .. c.grant.id .. " by " .. c.grant.approver) or "standing" }
  end
  return allow()
end
'''

# The shared policy store: web1's `policy = "store:scale"`. Version 1 has no
# opinion (the file policy above decides); version 2 denies one command.
SCALE_V1 = """function on_command(c)
  return nil
end
"""
SCALE_V2 = """function on_command(c)
  if c.text == "echo scale-forbidden" then
    return deny("the shared policy v2 forbids this")
  end
  return nil
end
"""
SCALE_BROKEN = """function on_command(c)
  return deny("unclosed"
end
"""

HAPROXY = """global
  maxconn 200
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend ssh
  bind 127.0.0.1:{port}
  default_backend bastions
backend bastions
  balance roundrobin
  server a 127.0.0.1:{a}
  server b 127.0.0.1:{b}
"""


class ScaleOutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        cls.pg = None
        cls.haproxy = None
        cls.s3 = None
        cls.instances = []
        try:
            assert os.path.exists(S3RVER), S3RVER  # setup.sh installs it
            # One bucket for both instances, the same prefix.
            cls.s3 = S3Server(env.d)
            store = store_config(env, cls.s3)
            cls.pg = PostgresCluster(os.path.join(env.d, "pg"))
            cls.pg.psql("CREATE DATABASE bastion")
            cls.dsn = f"postgresql://postgres@127.0.0.1:{cls.pg.port}/bastion"
            pw = os.path.join(env.d, "store.pw")
            with open(pw, "w") as f:
                f.write(cls.pg.password + "\n")
            os.chmod(pw, 0o600)
            with open(os.path.join(env.d, "policy.lua"), "w") as f:
                f.write(POLICY)
            for name, text in (("scale_v1.lua", SCALE_V1), ("scale_v2.lua", SCALE_V2),
                               ("scale_broken.lua", SCALE_BROKEN)):
                with open(os.path.join(env.d, name), "w") as f:
                    f.write(text)
            # Version 1 is in the store before the instances start (they
            # refuse to start without it); libpq takes the password from
            # PGPASSWORD here, bastiond from store_password_file.
            cls.policy_key, signers = env.policy_key()
            r = run([BASTIONCTL, "policy", "push", "scale", os.path.join(env.d, "scale_v1.lua"), "--key", cls.policy_key,
                     "--db", cls.dsn], env={**os.environ, "PGPASSWORD": cls.pg.password})
            assert r.returncode == 0, r.stderr
            k = env.keys
            env.bob = k.cert(k.keygen("bob"), env.ca, "bob", "ops,oncall")
            targets = env.default_targets().replace('allow = { "dba" } }',
                                                    'allow = { "dba" }, approvers = { "oncall" } }')
            targets = targets.replace('labels = { env = "test" } }', 'labels = { env = "test" }, policy = "store:scale" }')
            for name in ("a", "b"):
                # Same host key (harness default), same audit key, one store;
                # each its own data_dir (recordings, control files).
                extra = (f'data_dir = "data_{name}"\nstore = "{cls.dsn}"\nstore_password_file = "store.pw"\n'
                         f'audit_signing_key = "keys/audit_signing_key"\npolicy = "policy.lua"\nheartbeat_interval = 2\n'
                         f'{store}{signers}')
                cls.instances.append(Bastion(env, extra=extra, targets=targets, name=f"bastion_{name}"))
            env.bastion = cls.instances[0]  # for env.dump_logs
            cls.port = free_port()
            cfg = os.path.join(env.d, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(HAPROXY.format(port=cls.port, a=cls.instances[0].port, b=cls.instances[1].port))
            cls.haproxy_log = open(os.path.join(env.d, "haproxy.log"), "ab")
            cls.haproxy = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=cls.haproxy_log,
                                           stderr=subprocess.STDOUT)
            wait_port(cls.port)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.haproxy:
            cls.haproxy.terminate()
            cls.haproxy.wait()
            cls.haproxy_log.close()
        for b in cls.instances:
            b.stop()
        cls.env.bastion = None
        if cls.s3:
            cls.s3.close()
        cls.env.close()
        if cls.pg:
            cls.pg.stop()

    def run(self, result=None):
        return run_showing_failure(self, super().run, result, self.dump_instances_logs)

    def dump_instances_logs(self):
        for b in self.instances:
            self.env.bastion = b
            self.env.dump_logs()

    # Through the load balancer, never to an instance directly.
    def ssh_cmd(self, key, target, command):
        return ["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", key,
                "-p", str(self.port), "-T", f"{target}@127.0.0.1"] + list(command)

    def ssh(self, key, target, *command):
        return run(self.ssh_cmd(key, target, command), timeout=60)

    def sql(self, q):
        return self.pg.scalar(q, db="bastion")

    def instance_of(self, session_id, timeout=10):
        """The instance (0 or 1) whose log has SESSION_ID."""
        end = time.time() + timeout
        while time.time() < end:
            for i, b in enumerate(self.instances):
                if any(l.get("session") == session_id for l in b.log_lines()):
                    return i
            time.sleep(0.05)
        self.fail(f"no instance logged session {session_id}")

    def last_session_of(self, identity, before):
        """The newest session of IDENTITY not in BEFORE (ids)."""
        end = time.time() + 10
        while time.time() < end:
            rows = [r for r in self.sql(f"SELECT id FROM sessions WHERE identity='{identity}' ORDER BY started_at")
                    .splitlines() if r and r not in before]
            if rows:
                return rows[-1]
            time.sleep(0.05)
        self.fail(f"no new session of {identity}")

    def sessions_of(self, identity):
        return set(self.sql(f"SELECT id FROM sessions WHERE identity='{identity}'").splitlines())

    def steer_next_to(self, instance):
        """Round robin over two servers: makes the next connection land on
        INSTANCE, with harmless probes, and checks where they landed."""
        before = self.sessions_of("bob")
        self.assertEqual(self.ssh(self.env.bob, "approvals", "list").returncode, 0)
        probe = self.instance_of(self.last_session_of("bob", before))
        if probe == instance:
            before = self.sessions_of("bob")
            self.assertEqual(self.ssh(self.env.bob, "approvals", "list").returncode, 0)
            self.assertNotEqual(self.instance_of(self.last_session_of("bob", before)), instance)

    def held_then_approved_across(self, text, same=False):
        """Holds TEXT on one instance, approves it through the other (SAME:
        through the same one); returns seconds from the approval's answer
        to the command's output."""
        p = subprocess.Popen(self.ssh_cmd(self.env.alice, "web1", [text]), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        arrived = {}

        def read():
            for line in p.stdout:
                arrived.setdefault(line.decode().strip(), time.monotonic())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        end = time.time() + 15
        rid = ""
        while not rid and time.time() < end:
            rid = self.sql(f"SELECT id FROM approval_requests WHERE command_text='{text}' AND state='pending'")
            time.sleep(0.05)
        self.assertTrue(rid, "no pending request")
        held_on = self.instance_of(self.sql(f"SELECT session_id FROM approval_requests WHERE id={rid}"))
        other = held_on if same else 1 - held_on
        self.steer_next_to(other)
        before = self.sessions_of("bob")
        r = self.ssh(self.env.bob, "approvals", "approve", rid)
        approved = time.monotonic()
        self.assertEqual((r.returncode, r.stdout.decode()), (0, f"request #{rid} approved\n"), r.stderr)
        self.assertEqual(self.instance_of(self.last_session_of("bob", before)), other)  # landed on the other one
        p.wait(timeout=30)
        reader.join(timeout=5)
        err = p.stderr.read()
        self.assertEqual(p.returncode, 0, err)
        word = text.split()[1]
        self.assertIn(word, arrived)
        self.assertIn(f"bastion: request #{rid} approved by bob", err.decode())
        # LISTEN/NOTIFY: at once, not at the held session's next 2 s poll.
        self.assertLess(arrived[word] - approved, 1.0)
        self.assertEqual(self.sql(f"SELECT state, decided_by FROM approval_requests WHERE id={rid}"), "used|bob")
        return arrived[word] - approved

    def test_held_command_approved_on_the_other_instance_runs_within_a_second(self):
        # Both ways round: held on A approved on B, and held on B approved on A
        # (whichever the balancer gives first).
        self.held_then_approved_across("echo held-one")
        self.held_then_approved_across("echo held-two")

    def test_audit_sessions_on_the_shared_store_lists_both_instances(self):
        before = self.sessions_of("alice")
        landed = set()
        for i in range(2):
            r = self.ssh(self.env.alice, "web1", f"echo listed-{i}")
            self.assertEqual((r.returncode, r.stdout.decode()), (0, f"listed-{i}\n"), r.stderr)
            landed.add(self.instance_of(self.last_session_of("alice", before)))
            before = self.sessions_of("alice")
        self.assertEqual(landed, {0, 1})  # round robin: one on each
        r = run([BASTIONCTL, "audit", "commands", "--config", self.instances[1].conf, "--grep", "LISTED-", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = json.loads(r.stdout)["commands"]
        texts = sorted(c["text"] for c in rows)
        self.assertEqual(texts, ["echo listed-0", "echo listed-1"])
        sids = {c["session_id"] for c in rows}
        self.assertEqual({self.instance_of(s) for s in sids}, {0, 1})
        r = run([BASTIONCTL, "audit", "sessions", "--config", self.instances[0].conf, "--json", "--limit", "500"])
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = {s["id"] for s in json.loads(r.stdout)["sessions"]}
        self.assertTrue(sids <= listed, (sids, listed))
        # The password never shows in what bastionctl prints.
        self.assertNotIn(self.pg.password, r.stdout.decode() + r.stderr.decode())

    def test_grant_made_through_one_admits_on_the_other(self):
        self.assertEqual(self.ssh(self.env.alice, "db1", "true").returncode, 1)  # dba only
        r = self.ssh(self.env.alice, "access", "request", "db1", "--for", "5m", "--reason", "INC-77")
        self.assertEqual(r.returncode, 0, r.stderr)
        rid = re.search(r"request #(\d+) created", r.stdout.decode()).group(1)
        before = self.sessions_of("bob")
        self.assertEqual(self.ssh(self.env.bob, "approvals", "approve", rid).returncode, 0)
        approved_on = self.instance_of(self.last_session_of("bob", before))
        self.steer_next_to(1 - approved_on)
        before = self.sessions_of("alice")
        r = self.ssh(self.env.alice, "db1", "echo grant-in")
        self.assertEqual((r.returncode, r.stdout), (0, b"grant-in\n"), r.stderr)
        self.assertEqual(self.instance_of(self.last_session_of("alice", before)), 1 - approved_on)
        self.assertEqual(self.sql("SELECT reason FROM commands WHERE text='echo grant-in' AND kind='exec'"),
                         f"grant {rid} by bob")

    def store_reloads(self):
        return [sum(1 for l in b.log_lines() if l.get("msg") == "config reloaded" and l.get("trigger") == "policy store")
                for b in self.instances]

    def wait_store_reload(self, before, timeout=10.0):
        """Seconds until both instances reloaded for the policy store."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            now = self.store_reloads()
            if all(n > b for n, b in zip(now, before)):
                return time.monotonic() - start
            time.sleep(0.05)
        self.fail(f"policy store reloads {self.store_reloads()}, before {before}")

    def scale_command_on(self, instance):
        """Runs the command the shared policy judges on INSTANCE (through the balancer)."""
        self.steer_next_to(instance)
        before = self.sessions_of("alice")
        r = self.ssh(self.env.alice, "web1", "echo scale-forbidden")
        self.assertEqual(self.instance_of(self.last_session_of("alice", before)), instance)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_policy_pushed_once_applies_on_both_and_rolls_back_on_both(self):
        conf = self.instances[0].conf
        for i in (0, 1):
            self.assertEqual(self.scale_command_on(i), (0, "scale-forbidden\n", ""))
        before = self.store_reloads()
        r = run([BASTIONCTL, "policy", "push", "scale", os.path.join(self.env.d, "scale_v2.lua"), "--note", "deny it",
                 "--key", self.policy_key, "--config", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^policy scale: version 2 pushed and active \(sha256 [0-9a-f]{16}, 0 modules, signed by SHA256:"
                                               r"[A-Za-z0-9+/]{43}\)\n$")
        # Announced (NOTIFY): both instances reload at once, within the poll's
        # second when the machine is idle (the bound leaves room for a loaded one).
        self.assertLess(self.wait_store_reload(before), 8.0)
        for i in (0, 1):
            self.assertEqual(self.scale_command_on(i), (126, "", "bastion: denied: the shared policy v2 forbids this\n"))
        # Each decision names the stored version it came from, on both instances.
        rows = self.sql("SELECT DISTINCT policy_source || ' ' || policy_hash FROM commands "
                        "WHERE text='echo scale-forbidden' AND decision='deny'")
        self.assertEqual(rows, "store:scale@2:3 " + self.sql("SELECT hash FROM policy_versions WHERE name='scale' AND version=2"))
        # A policy that does not compile: refused with the Lua error, nothing changes.
        broken = os.path.join(self.env.d, "scale_broken.lua")
        r = run([BASTIONCTL, "policy", "push", "scale", broken, "--key", self.policy_key, "--config", conf])
        self.assertEqual((r.returncode, r.stdout.decode(), r.stderr.decode()),
                         (1, "", f"{broken}:3: ')' expected (to close '(' at line 2) near 'end'\n"
                                 f"bastionctl: policy push: scale: {broken} was not pushed (nothing changed)\n"))
        self.assertEqual(self.sql("SELECT max(version) FROM policy_versions WHERE name='scale'"), "2")
        # The listing, from the other instance's configuration.
        r = run([BASTIONCTL, "policy", "list", "scale", "--config", self.instances[1].conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [l.split("\t") for l in r.stdout.decode().splitlines()[1:]]
        self.assertEqual([(x[1], x[2], x[6]) for x in rows], [("1", "", ""), ("2", "active", "deny it")])
        # Rollback: version 1 on both, again within seconds (the same bound as
        # the push: a reload under ASan on a loaded CI machine took 3.3 s).
        before = self.store_reloads()
        r = run([BASTIONCTL, "policy", "rollback", "scale", "1", "--key", self.policy_key, "--config", conf])
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "policy scale: version 1 is active again\n"), r.stderr)
        self.assertLess(self.wait_store_reload(before), 8.0)
        for i in (0, 1):
            self.assertEqual(self.scale_command_on(i), (0, "scale-forbidden\n", ""))
        self.assertEqual(self.sql("SELECT version || ' ' || action FROM policy_activations WHERE name='scale' ORDER BY id"),
                         "1 push\n2 push\n1 rollback")
        # The password never shows in what bastionctl prints.
        self.assertNotIn(self.pg.password, r.stdout.decode() + r.stderr.decode())

    def recordings_dir(self, i):
        return os.path.join(self.env.d, f"data_{'ab'[i]}", "recordings")

    def recording_of(self, text):
        """(session id, recording id, path) of the exec channel that ran TEXT."""
        end = time.time() + 10
        while time.time() < end:
            row = self.sql("SELECT c.session_id || '|' || r.id || '|' || r.path FROM commands c JOIN recordings r "
                           f"ON r.path = c.recording WHERE c.text = '{text}'")
            if row:
                sid, rid, path = row.split("|")
                return sid, int(rid), path
            time.sleep(0.05)
        self.fail(f"no recording of {text}")

    def wait_stored(self, rid, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            key = self.sql(f"SELECT object_key FROM recording_locations WHERE recording_id={rid} AND state='stored'")
            if key:
                return key
            time.sleep(0.1)
        self.fail(f"recording {rid} not stored")

    def test_recordings_each_instance_ships_only_its_own(self):
        # A long session open on A: its recording stays open throughout.
        self.steer_next_to(0)
        before = self.sessions_of("alice")
        long = subprocess.Popen(self.ssh_cmd(self.env.alice, "web1", ["echo long-open; sleep 30"]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: long.poll() is None and (long.kill(), long.wait()))
        self.assertEqual(long.stdout.readline(), b"long-open\n")
        self.assertEqual(self.instance_of(self.last_session_of("alice", before)), 0)
        _, long_rid, _ = self.recording_of("echo long-open; sleep 30")
        shipped = {}
        for i, text in ((1, "echo shipped-by-b"), (0, "echo shipped-by-a")):
            self.steer_next_to(i)
            before = self.sessions_of("alice")
            r = self.ssh(self.env.alice, "web1", text)
            self.assertEqual((r.returncode, r.stdout.decode()), (0, text[5:] + "\n"), r.stderr)
            sid = self.last_session_of("alice", before)
            self.assertEqual(self.instance_of(sid), i)
            shipped[i] = self.recording_of(text)
        # B ships while A's recording is open (it neither waits for it nor
        # touches it), under the key the path has below B's recordings_dir.
        for i, (sid, rid, path) in shipped.items():
            key = self.wait_stored(rid)
            self.assertEqual(key, PREFIX + os.path.relpath(path, self.recordings_dir(i)))
            self.assertTrue(path.startswith(self.recordings_dir(i) + "/"), path)
            self.assertEqual(json.loads(self.s3.get(key).split(b"\n")[0])["version"], 2)
            self.assertFalse(os.path.exists(path))  # removed locally once stored
        self.assertIsNone(long.poll())
        self.assertEqual(self.sql(f"SELECT state FROM recordings WHERE id={long_rid}"), "open")
        self.assertEqual(self.sql(f"SELECT count(*) FROM recording_locations WHERE recording_id={long_rid} "
                                  "AND state='stored'"), "0")
        # Every recording either instance shipped, or tried to, in this whole
        # class is its own (on its disk): never the other's.
        for i, b in enumerate(self.instances):
            tried = [l["recording"] for l in b.log_lines() if l.get("msg", "").startswith("recording ")
                     and "ship" in l.get("msg", "") and "recording" in l]
            self.assertIn(shipped[i][2], tried)
            self.assertEqual([p for p in tried if not p.startswith(self.recordings_dir(i) + "/")], [])
        # A's long recording ships once it closes: A's own list was not stuck either.
        long.kill()
        long.wait()
        self.wait_stored(long_rid)

    def verify(self, conf):
        r = run([BASTIONCTL, "verify", "--config", conf, "--all"], timeout=60)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def problems(self, out):
        return [l for l in out.splitlines() if l.startswith("audit: ") and not l.startswith("audit: NOTE")]

    def test_verify_checks_the_shared_store_as_it_checks_sqlite(self):
        r = self.ssh(self.env.alice, "web1", "echo verify-me")
        self.assertEqual((r.returncode, r.stdout), (0, b"verify-me\n"), r.stderr)
        cid = self.sql("SELECT id FROM commands WHERE text='echo verify-me' AND kind='exec'")
        # Through either instance's config: the whole store, both instances'
        # rows and recordings (shipped ones from the bucket).
        for b in self.instances:
            end = time.time() + 10  # a recording read as its shipper removes it: read again
            rc, out, err = self.verify(b.conf)
            while rc != 0 and time.time() < end:
                time.sleep(0.2)
                rc, out, err = self.verify(b.conf)
            self.assertEqual((rc, err, self.problems(out)), (0, "", []), out)
            self.assertTrue(out.endswith("verify: OK\n"), out)
            self.assertRegex(out, r"audit chain: OK \(\d+ entries, signed up to entry \d+ at ")
            self.assertNotIn("missing file", out)
        # A commands row edited in PostgreSQL directly: the words and exit
        # code verify gives on SQLite (test_verify).
        self.assertEqual(self.sql(f"SELECT decision FROM commands WHERE id={cid}"), "allow")
        self.sql(f"UPDATE commands SET decision='deny' WHERE id={cid}")
        try:
            rc, out, _ = self.verify(self.instances[1].conf)
            self.assertEqual((rc, self.problems(out)),
                             (1, [f'audit: commands {cid}: edited outside the bastion: decision: chained "allow", '
                                  f'now "deny"']), out)
            self.assertTrue(out.endswith("verify: FAILED\n"), out)
        finally:
            self.sql(f"UPDATE commands SET decision='allow' WHERE id={cid}")
        # A chain entry edited: that entry no longer hashes to itself.
        seq = self.sql(f"SELECT max(seq) FROM audit_chain WHERE tbl='commands' AND row_key='{cid}'")
        self.sql(f"UPDATE audit_chain SET writer='bastionctl' WHERE seq={seq}")
        try:
            rc, out, _ = self.verify(self.instances[0].conf)
            self.assertEqual((rc, self.problems(out)),
                             (1, [f"audit: audit chain: entry {seq} (commands {cid}) was altered"]), out)
            self.assertTrue(out.endswith("verify: FAILED\n"), out)
        finally:
            self.sql(f"UPDATE audit_chain SET writer='bastiond' WHERE seq={seq}")
        rc, out, _ = self.verify(self.instances[0].conf)
        self.assertEqual((rc, self.problems(out)), (0, []), out)

    def running_session(self):
        """A session running `sleep 60`: its ssh client, session id and instance."""
        before = self.sessions_of("alice")
        p = subprocess.Popen(self.ssh_cmd(self.env.alice, "web1", ["echo started; sleep 60"]), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"started\n")
        sid = self.last_session_of("alice", before)
        return p, sid, self.instance_of(sid)

    def test_y_stalled_instance_ends_its_sessions_and_joins_again(self):
        # A stall longer than three heartbeats (SIGSTOP here; a VM pause or a
        # long retention run in life): the other instance marks the stalled
        # one's sessions interrupted. Once it runs again, those sessions end
        # with a message (the audit says they are over), and it joins again.
        p, sid, stalled = self.running_session()
        b = self.instances[stalled]
        live_before = int(self.sql("SELECT count(*) FROM instances WHERE stopped IS NULL"))
        b.proc.send_signal(signal.SIGSTOP)
        try:
            reason, end = "", time.monotonic() + 20
            while time.monotonic() < end and not reason:
                reason = self.sql(f"SELECT end_reason FROM sessions WHERE id='{sid}' AND ended_at IS NOT NULL")
                time.sleep(0.1)
        finally:
            b.proc.send_signal(signal.SIGCONT)
        self.assertEqual(reason, f"interrupted (bastiond instance on {socket.gethostname()} stopped heartbeating)")
        out, err = p.communicate(timeout=20)
        self.assertEqual(out, b"")
        # Whichever the stalled instance notices first once it runs: the main
        # loop's heartbeat, or the session's next recording checkpoint (the
        # other instance closed the recording as interrupted). Both end it.
        ends = {
            "instance declared stopped": "bastion: this bastion instance missed its heartbeats and was declared "
                                         "stopped by another; the audit shows this session as interrupted; session closed\n",
            "recording failed": "bastion: recording failed: checkpoint: no open recording row ",
        }
        self.assertTrue(any(err.decode().startswith(m) for m in ends.values()), err)
        self.assertNotEqual(p.returncode, 0)
        # Its own end then replaces the other's account (both are in the chain).
        end = time.monotonic() + 10
        while time.monotonic() < end and self.sql(f"SELECT end_reason FROM sessions WHERE id='{sid}'") == reason:
            time.sleep(0.1)
        self.assertIn(self.sql(f"SELECT end_reason FROM sessions WHERE id='{sid}'"), ends)
        end = time.monotonic() + 15
        while time.monotonic() < end and not any(
                l.get("msg", "").startswith("this instance was declared stopped by another") for l in b.log_lines()):
            time.sleep(0.1)
        joined = [l for l in b.log_lines() if l.get("msg", "").startswith("this instance was declared stopped by another")]
        self.assertEqual(len(joined), 1, joined)
        self.assertNotEqual(joined[0]["instance"], joined[0]["was"])
        # Joined again: as many live instances as before, the new id beating.
        self.assertEqual(self.sql(f"SELECT stopped IS NULL FROM instances WHERE id='{joined[0]['instance']}'"), "t")
        self.assertEqual(self.sql(f"SELECT stopped IS NOT NULL FROM instances WHERE id='{joined[0]['was']}'"), "t")
        self.assertEqual(int(self.sql("SELECT count(*) FROM instances WHERE stopped IS NULL")), live_before)
        # And serves again: a new session on it runs and is attributed to the new id.
        self.steer_next_to(stalled)
        before = self.sessions_of("alice")
        r = self.ssh(self.env.alice, "web1", "echo after-the-stall")
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "after-the-stall\n"), r.stderr)
        sid = self.last_session_of("alice", before)
        self.assertEqual(self.instance_of(sid), stalled)
        self.assertEqual(self.sql(f"SELECT instance_id FROM session_instances WHERE session_id='{sid}'"),
                         joined[0]["instance"])

    def test_zz_kill_9_mid_session_is_marked_interrupted_by_the_other(self):
        # Last (zz): it leaves one instance dead.
        p, sid, victim = self.running_session()
        self.assertEqual(self.sql(f"SELECT ended_at IS NULL FROM sessions WHERE id='{sid}'"), "t")
        self.instances[victim].proc.send_signal(signal.SIGKILL)
        self.instances[victim].proc.wait()
        killed = time.monotonic()
        p.wait(timeout=10)
        reason = ""
        while time.monotonic() - killed < 20 and not reason:
            reason = self.sql(f"SELECT end_reason FROM sessions WHERE id='{sid}' AND ended_at IS NOT NULL")
            time.sleep(0.1)
        host = socket.gethostname()
        self.assertEqual(reason, f"interrupted (bastiond instance on {host} stopped heartbeating)")
        # About three intervals of 2 s, on the survivor's next beat.
        self.assertLess(time.monotonic() - killed, 12.0)
        survivor = self.instances[1 - victim]
        self.assertTrue(any(l.get("msg", "").startswith("a bastiond instance stopped heartbeating") for l in survivor.log_lines()))
        # Only the survivor is live (test_y's stalled instance joined again under a new id).
        self.assertEqual(self.sql("SELECT count(*) FROM instances WHERE stopped IS NULL"), "1")
        # The survivor's tools read and verify the recording the dead one
        # left (interrupted, on the dead instance's disk: nobody ships it).
        path, state = self.sql(f"SELECT path || '|' || state FROM recordings WHERE session_id='{sid}'").split("|")
        self.assertEqual(state, "interrupted")
        self.assertTrue(path.startswith(self.recordings_dir(victim) + "/"), path)
        r = run([BASTIONCTL, "recording", "cat", path, "--config", survivor.conf])
        self.assertEqual((r.returncode, r.stdout), (0, b"started\r\n"), r.stderr)
        r = run([BASTIONCTL, "recording", "play", path, "--config", survivor.conf, "--speed", "100"],
                stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"started\r\n", r.stdout)
        r = run([BASTIONCTL, "recording", "verify", path, "--config", survivor.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), rf"^{re.escape(path)}: asciicast v2, \d+x\d+, \d+ events")
        r = run([BASTIONCTL, "verify", "--config", survivor.conf, sid])
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertRegex(out, rf"recording {sid} channel \d+ \({re.escape(path)}\): interrupted: verified up to event \d+")
        # And the whole shared store still verifies: the dead instance's last
        # entries were signed in their own transactions.
        rc, out, err = self.verify(survivor.conf)
        self.assertEqual((rc, err, self.problems(out)), (0, "", []), out)
        self.assertTrue(out.endswith("verify: OK\n"), out)
        self.assertEqual(self.sql(f"SELECT count(*) FROM recording_locations WHERE recording_id IN "
                                  f"(SELECT id FROM recordings WHERE session_id='{sid}')"), "0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
