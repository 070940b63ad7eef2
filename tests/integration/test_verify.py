"""Tamper evidence through real sessions: bastionctl verify on recordings
(edit, truncation, deleted, inserted and swapped lines, a removed file; an
edit placed between two checkpoints), on audit rows changed with sqlite3
directly, on chain entries bastiond did not write (an attacker's, an admin
command's), on entries not yet signed, after a kill -9 of bastiond, and
across retention pruning."""
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time

from harness import BASTIONCTL, BastionTest, Env, main, run

POLICY = r'''
function on_command(c)
  if c.text == "forbidden" then return deny("not this one") end
  if c.text == "echo held" then return review{ reason = "held", approvers = { "oncall" }, timeout = 30 } end
  return allow()
end
'''

# Three output events, apart in time so each is its own event.
CMD = "echo alpha; sleep 0.05; echo beta; sleep 0.05; echo gamma"


def iso(t):
    """The chain's `at`: ISO 8601 UTC with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def forge_entry(db, table, key, writer, at):
    """Appends a well-formed chain entry for TABLE's row KEY, as anyone who can
    write audit.db can: the same canonical JSON and hash formula as bastiond."""
    db.row_factory = sqlite3.Row
    row = dict(db.execute(f"SELECT * FROM {table} WHERE CAST(id AS TEXT)=?", (key,)).fetchone())
    row_json = json.dumps(row, sort_keys=True, separators=(",", ":"))
    head = db.execute("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, "0" * 64)
    entry = json.dumps([seq, table, key, row_json, writer, at], separators=(",", ":"))
    digest = hashlib.sha256((prev + "\n" + entry).encode()).hexdigest()
    db.execute("INSERT INTO audit_chain (seq, tbl, row_key, row_json, prev_hash, hash, writer, at) "
               "VALUES (?,?,?,?,?,?,?,?)", (seq, table, key, row_json, prev, digest, writer, at))
    return seq


def event_time(line):
    """An asciicast event line's time, as verify prints it."""
    return "%.2f" % float(line.split(b",")[0][1:])


def write_policy(env):
    with open(os.path.join(env.d, "verify_policy.lua"), "w") as f:
        f.write(POLICY)
    return 'policy = "verify_policy.lua"'


class Session:
    """One finished session: its id, recording path and lines."""

    def __init__(self, env, command=CMD):
        before = {r[0] for r in env.audit("SELECT id FROM sessions")}
        r = env.ssh("web1", command)
        assert r.returncode == 0, r
        end = time.time() + 10
        while time.time() < end:
            rows = [r for r in env.audit("SELECT s.id, r.path, r.state FROM sessions s JOIN recordings r "
                                         "ON r.session_id = s.id WHERE s.ended_at IS NOT NULL")
                    if r[0] not in before and r[2] == "closed"]
            if rows:
                break
            time.sleep(0.05)
        self.id, self.path, _ = rows[0]
        with open(self.path, "rb") as f:
            self.original = f.read()
        self.lines = self.original.splitlines(keepends=True)

    def write(self, data):
        with open(self.path, "wb") as f:
            f.write(data)

    def restore(self):
        self.write(self.original)


class VerifyTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        try:
            cls.env.start_bastion(extra=write_policy(cls.env))
        except BaseException:
            cls.env.close()
            raise

    def verify(self, *args, db=None):
        b = self.env.bastion
        if db:
            cmd = [BASTIONCTL, "verify", "--db", db, "--key", os.path.join(b.data, "audit_signing_key.pub")]
        else:
            cmd = [BASTIONCTL, "verify", "--config", b.conf]
        r = run(cmd + list(args), timeout=30)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def verified(self, *args):
        """The head is signed within about a second of a write: wait for a clean verify."""
        end = time.time() + 10
        while True:
            rc, out, err = self.verify(*args)
            if rc == 0 or time.time() > end:
                return rc, out, err
            time.sleep(0.1)

    def session(self):
        s = Session(self.env)
        self.addCleanup(s.restore)
        rc, out, _ = self.verified(s.id)
        self.assertEqual(rc, 0, out)
        return s

    def recording_line(self, s, what):
        return f"recording {s.id} channel 0 ({s.path}): {what}"

    def check_recording(self, s, what):
        rc, out, _ = self.verify(s.id)
        self.assertIn(self.recording_line(s, what) + "\n", out)
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.endswith("verify: FAILED\n"), out)

    def last_cp(self, s):
        """The last signed checkpoint's event: 2 (the decision marker), or later
        when the output came more than a second after it (a timed checkpoint;
        slow builds)."""
        [(cp,)] = self.env.audit("SELECT cp_events FROM recordings WHERE session_id=?", (s.id,))
        self.assertGreaterEqual(cp, 2)
        return cp

    def check_after_cp(self, s, what, changed):
        """WHAT, located after the last checkpoint when that came before event
        CHANGED (the first one the change touches); else located among the
        checkpoints (the exact words depend on where the timed one fell)."""
        cp = self.last_cp(s)
        if cp < changed:
            return self.check_recording(
                s, what + f" (after the last signed checkpoint, at event {cp}, t={event_time(s.lines[cp])} s)")
        rc, out, _ = self.verify(s.id)
        self.assertRegex(out, re.escape(self.recording_line(s, what)) + r" \(.*checkpoint.*\)\n")
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.endswith("verify: FAILED\n"), out)

    # Events: 1 "exec:" marker, 2 "decision:" marker (checkpoint), 3-5 alpha, beta, gamma.
    def test_clean_session_verifies(self):
        s = self.session()
        self.assertEqual(len(s.lines), 6, s.lines)
        rc, out, _ = self.verify(s.id)
        self.assertEqual(rc, 0, out)
        self.assertIn(self.recording_line(s, f"OK (5 events, {len(s.original)} bytes)") + "\n", out)
        self.assertRegex(out, r"audit chain: OK \(\d+ entries, signed up to entry \d+ at \S+Z, head [0-9a-f]{64}\)\n")
        self.assertTrue(out.endswith("verify: OK\n"))
        j = json.loads(run([BASTIONCTL, "verify", "--config", self.env.bastion.conf, s.id, "--json"]).stdout)
        self.assertEqual((j["ok"], j["recordings"][0]["ok"], j["recordings"][0]["state"]), (True, True, "closed"))

    def test_sed_edit_of_one_event(self):
        s = self.session()
        subprocess.run(["sed", "-i", "5s/beta/BETA/", s.path], check=True)  # event 4, an output event
        cp = self.last_cp(s)
        if cp < 4:
            self.check_recording(s, f"edited: a line between event {cp} and event 5 (t={event_time(s.lines[cp])}.."
                                    f"{event_time(s.lines[5])} s) differs from what was signed "
                                    "(same number of events, same size)")
        else:  # timed checkpoints around the edited line: located between two of them
            rc, out, _ = self.verify(s.id)
            self.assertRegex(out, re.escape(self.recording_line(s, "")) + r"edited: a line between event [1-3] and "
                             r"event [4-5] \(t=\S+ s\) differs from what was signed \(same number of events, same size\)\n")
            self.assertEqual(rc, 1, out)

    def test_truncation(self):
        s = self.session()
        s.write(b"".join(s.lines[:-1]))
        self.check_after_cp(s, "truncated: file ends at event 4, store says 5", 5)

    def test_truncation_mid_line(self):
        s = self.session()
        s.write(b"".join(s.lines[:-1]) + s.lines[-1][:10])
        self.check_after_cp(s, "truncated: file ends in the middle of event 5, store says 5", 5)

    def test_deleted_line(self):
        s = self.session()
        s.write(b"".join(s.lines[:4] + s.lines[5:]))
        self.check_after_cp(s, "lines deleted: file has 4 events, store says 5", 4)

    def test_inserted_line(self):
        s = self.session()
        t = s.lines[4].split(b",")[0][1:].decode()
        forged = f'[{t}, "o", "rm -rf /\\r\\n"]\n'.encode()
        s.write(b"".join(s.lines[:5] + [forged] + s.lines[5:]))
        self.check_after_cp(s, "lines inserted: file has 6 events, store says 5", 5)

    def test_swapped_lines(self):
        s = self.session()
        s.write(b"".join(s.lines[:3] + [s.lines[4], s.lines[3]] + s.lines[5:]))
        self.check_after_cp(s, "lines reordered: line 5 is earlier than line 4", 3)

    def test_recording_removed(self):
        s = self.session()
        os.remove(s.path)
        self.check_recording(s, f"missing file: {s.path}")

    def test_appended_bytes(self):
        s = self.session()
        s.write(s.original + b'[9.0, "o", "x"')
        self.check_recording(s, "bytes appended: 14 bytes after the last signed event (5)")

    def test_public_key_from_config_not_store(self):
        # Another key (an attacker's) does not verify what the bastion signed.
        s = self.session()
        # python3-cryptography comes with python3-paramiko.
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
        other = os.path.join(self.env.d, "other_key.pub")
        with open(other, "wb") as f:
            f.write(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        r = run([BASTIONCTL, "verify", "--config", self.env.bastion.conf, "--key", other, s.id])
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.recording_line(s, "bad signature on the final digest (events 5)") + "\n", out)
        self.assertRegex(out, r"audit: audit anchor \d+ \(seq \d+\): bad signature\n")

    # Audit rows: tampered in a copy of the store (the chain is checked whole).
    def tampered_store(self, *sql):
        self.session()
        copy = os.path.join(self.env.d, "tampered.db")
        src = sqlite3.connect(os.path.join(self.env.bastion.data, "audit.db"))
        dst = sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        for q in sql:
            dst.execute(q)
        dst.commit()
        dst.close()
        self.addCleanup(os.remove, copy)
        return copy

    def denied_command_id(self):
        r = self.env.ssh("web1", "forbidden")
        self.assertNotEqual(r.returncode, 0)
        end = time.time() + 10
        while time.time() < end:
            rows = self.env.audit("SELECT id FROM commands WHERE text='forbidden' AND decision='deny' "
                                  "AND ended_at IS NOT NULL ORDER BY id DESC LIMIT 1")
            if rows:
                return rows[0][0]
            time.sleep(0.05)
        self.fail("no denied command row")

    def test_audit_row_decision_changed(self):
        cid = self.denied_command_id()
        db = self.tampered_store(f"UPDATE commands SET decision='allow' WHERE id={cid}")
        rc, out, _ = self.verify("--all", db=db)
        self.assertEqual(rc, 1, out)
        self.assertIn(f'audit: commands {cid}: edited outside the bastion: decision: chained "deny", now "allow"\n', out)

    def test_audit_row_deleted(self):
        cid = self.denied_command_id()
        db = self.tampered_store(f"DELETE FROM commands WHERE id={cid}")
        rc, out, _ = self.verify("--all", db=db)
        self.assertEqual(rc, 1, out)
        self.assertIn(f"audit: commands {cid}: deleted outside the bastion (chained, no longer in the table)\n", out)

    def test_audit_row_inserted(self):
        db = self.tampered_store()
        con = sqlite3.connect(db)
        sid = con.execute("SELECT id FROM sessions ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        cur = con.execute("INSERT INTO commands (session_id, channel, at, kind, text, decision) "
                          "VALUES (?, 0, '2026-01-01T00:00:00Z', 'exec', 'cover story', 'allow')", (sid,))
        cid = cur.lastrowid
        con.commit()
        con.close()
        rc, out, _ = self.verify("--all", db=db)
        self.assertEqual(rc, 1, out)
        self.assertIn(f"audit: commands {cid}: not in the audit chain (inserted outside the bastion)\n", out)

    def test_audit_chain_entry_rewritten(self):
        # Editing the row and its chain entry together breaks the hashes.
        cid = self.denied_command_id()
        db = self.tampered_store(
            f"UPDATE commands SET decision='allow' WHERE id={cid}",
            f"UPDATE audit_chain SET row_json=replace(row_json, '\"decision\":\"deny\"', '\"decision\":\"allow\"') "
            f"WHERE tbl='commands' AND row_key='{cid}'")
        rc, out, _ = self.verify("--all", db=db)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, rf"audit: audit chain: entry \d+ \(commands {cid}\) was altered\n")

    def test_recording_row_signature_changed(self):
        s = self.session()
        rid = self.env.audit("SELECT id FROM recordings WHERE session_id=?", (s.id,))[0][0]
        db = self.tampered_store(f"UPDATE recordings SET events=4 WHERE id={rid}")
        rc, out, _ = self.verify(s.id, db=db)
        self.assertEqual(rc, 1, out)
        self.assertIn(self.recording_line(s, "bad signature on the final digest (events 4)") + "\n", out)
        self.assertIn(f"audit: recordings {rid}: edited outside the bastion: events: chained 5, now 4\n", out)

    def test_edit_located_between_checkpoints(self):
        # Output a second apart: a checkpoint is signed about every second,
        # and every one is kept; the edit of "b" is placed between two.
        s = Session(self.env, "echo a; sleep 1.2; echo b; sleep 1.2; echo c; sleep 1.2; echo d")
        self.addCleanup(s.restore)
        self.assertEqual(self.verified(s.id)[0], 0)
        rid = self.env.audit("SELECT id FROM recordings WHERE session_id=?", (s.id,))[0][0]
        cps = [r[0] for r in self.env.audit("SELECT events FROM recording_checkpoints WHERE recording_id=? "
                                            "ORDER BY events", (rid,))]
        self.assertGreaterEqual(len(cps), 3, cps)
        b = next(i for i, l in enumerate(s.lines) if b'"b\\r\\n"' in l)
        before = max([c for c in cps if c < b])
        after = min([c for c in cps if c >= b] + [len(s.lines) - 1])
        self.assertLessEqual(after - before, 2, cps)  # within one checkpoint interval
        s.write(s.original.replace(b'"b\\r\\n"', b'"B\\r\\n"'))
        self.check_recording(s, f"edited: a line between event {before} and event {after} "
                                f"(t={event_time(s.lines[before])}..{event_time(s.lines[after])} s) differs from "
                                "what was signed (same number of events, same size)")

    def unsigned_entry(self, age):
        """A copy of the store with one more auth row and its chain entry,
        dated AGE seconds ago, that no anchor covers."""
        db = self.tampered_store()
        con = sqlite3.connect(db)
        cur = con.execute("INSERT INTO auth_events (at, source_address, user, key_id, serial, ca_fingerprint, "
                          "accepted, reason) VALUES ('t', '10.0.0.1', 'web1', 'k', 1, 'f', 1, 'x')")
        seq = forge_entry(con, "auth_events", str(cur.lastrowid), "bastiond", iso(time.time() - age))
        con.commit()
        con.close()
        signed = sqlite3.connect(db).execute("SELECT MAX(seq) FROM audit_anchors").fetchone()[0]
        return db, f"{signed + 1}..{seq}"

    def test_entries_not_yet_signed_are_a_note(self):
        db, span = self.unsigned_entry(1)
        rc, out, _ = self.verify("--all", db=db)
        self.assertIn(f"audit: NOTE: audit chain: entries {span} not yet signed (written in the last seconds; "
                      "bastiond signs within a second)\n", out)
        self.assertEqual(rc, 0, out)

    def test_entries_unsigned_for_long_fail(self):
        db, span = self.unsigned_entry(60)
        rc, out, _ = self.verify("--all", db=db)
        self.assertIn(f"audit: audit chain: entries {span} are chained but unsigned (after the last signed anchor)\n",
                      out)
        self.assertEqual(rc, 1, out)

    def test_bastionctl_approve_is_a_note(self):
        env = self.env
        client = subprocess.Popen(env.ssh_base() + ["web1@127.0.0.1", "echo held"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            rows = env.audit_eventually("SELECT id FROM approval_requests WHERE state='pending'", [(1,)])
            rid = rows[0][0]
            db = os.path.join(env.bastion.data, "audit.db")
            r = run([BASTIONCTL, "approvals", "--db", db, "approve", str(rid)])
            self.assertEqual(r.returncode, 0, r)
            out, _ = client.communicate(timeout=20)
            self.assertEqual(out, b"held\n")
        finally:
            if client.poll() is None:
                client.kill()
                client.communicate()
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
        seq, key = env.audit("SELECT seq, row_key FROM audit_chain WHERE tbl='approval_votes'")[0]
        self.assertEqual(key, f"{rid}/admin:{user}")
        rc, out, _ = self.verified("--all")
        self.assertEqual(rc, 0, out)
        self.assertIn(f"audit: NOTE: audit chain: entry {seq} (approval_votes {key}): written outside bastiond by "
                      f"bastionctl approvals ({user}): check it\n", out)
        self.assertTrue(out.endswith("verify: OK\n"), out)


class RecordingRowFailureTest(BastionTest):
    """No recordings row, no recording: the channel fails closed as when the
    file cannot be created."""

    def test_row_that_cannot_be_written_refuses_the_command(self):
        db = sqlite3.connect(os.path.join(self.env.bastion.data, "audit.db"))
        db.execute("CREATE TRIGGER no_rows BEFORE INSERT ON recordings BEGIN SELECT RAISE(ABORT, 'store full'); END")
        db.commit()
        db.close()
        marker = os.path.join(self.env.target.home, "ran")
        r = self.env.ssh("web1", f"touch {marker}")
        self.assertEqual(r.returncode, 255)
        self.assertEqual(r.stderr.decode(), "bastion: this session cannot be recorded; nothing was run\n")
        self.assertFalse(os.path.exists(marker))
        rows = self.env.audit_eventually("SELECT decision, reason FROM commands WHERE kind='exec'",
                                         [("deny", "recording unavailable")])
        self.assertEqual(rows, [("deny", "recording unavailable")])
        logs = [l for l in self.env.bastion.log_lines() if l.get("msg") == "cannot open recording"]
        self.assertEqual(len(logs), 1)
        self.assertEqual(logs[0]["error"], "recording row: store full")


class CheckpointFailureTest(BastionTest):
    def test_checkpoint_that_cannot_be_stored_ends_the_channel(self):
        env = self.env
        cmd = env.ssh_base() + ["web1@127.0.0.1", "echo start; sleep 1.5; echo later; sleep 5; echo never"]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(client.stdout.readline(), b"start\n")
            db = sqlite3.connect(os.path.join(env.bastion.data, "audit.db"))
            db.execute("CREATE TRIGGER no_checkpoints BEFORE UPDATE OF cp_events ON recordings "
                       "BEGIN SELECT RAISE(ABORT, 'store full'); END")
            db.commit()
            db.close()
            out, err = client.communicate(timeout=20)
        finally:
            if client.poll() is None:
                client.kill()
                client.communicate()
        # The first checkpoint after the trigger (over "start" a second in, or
        # over "later" when the first one already covered "start") fails.
        self.assertIn(out, (b"", b"later\n"))
        self.assertEqual(err, b"bastion: recording failed: checkpoint: store full; session closed\n")
        self.assertEqual(client.returncode, 255)
        self.assertEqual(env.audit_eventually("SELECT recording_state FROM commands WHERE kind='exec'",
                                              [("failed",)]), [("failed",)])


class ForeignEntriesTest(BastionTest):
    """The chain's hashes are not keyed: a commands row and its chain entry,
    computed as bastiond would and claiming bastiond, appended by another
    writer of audit.db while bastiond runs. bastiond's next anchor names it
    foreign, and verify fails on it."""

    def test_attacker_entry_is_named_and_fails(self):
        env = self.env
        Session(env, "true")
        db = sqlite3.connect(os.path.join(env.bastion.data, "audit.db"))
        sid = db.execute("SELECT id FROM sessions ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        cur = db.execute("INSERT INTO commands (session_id, channel, at, kind, text, decision) "
                         "VALUES (?, 0, '2026-01-01T00:00:00Z', 'exec', 'cover story', 'allow')", (sid,))
        cid = cur.lastrowid
        seq = forge_entry(db, "commands", str(cid), "bastiond", iso(time.time()))
        db.commit()
        db.close()
        # bastiond anchors within about a second, naming the entry foreign.
        end = time.time() + 10
        while time.time() < end and not env.audit("SELECT 1 FROM audit_anchors WHERE seq >= ?", (seq,)):
            time.sleep(0.05)
        foreign = env.audit("SELECT foreign_seqs FROM audit_anchors WHERE seq >= ?", (seq,))
        self.assertEqual(foreign, [(f"[[{seq},{seq}]]",)])
        warned = [l for l in env.bastion.log_lines() if l.get("msg") == "audit chain: signing entries another process appended"]
        self.assertEqual([w["foreign"] for w in warned], [f"[[{seq},{seq}]]"])
        r = run([BASTIONCTL, "verify", "--config", env.bastion.conf, "--all"])
        out = r.stdout.decode()
        self.assertIn(f'audit: audit chain: entry {seq} (commands {cid}): not written by bastiond (it claims "bastiond"), '
                      "and no bastionctl command writes commands\n", out)
        self.assertEqual(r.returncode, 1, out)
        j = json.loads(run([BASTIONCTL, "verify", "--config", env.bastion.conf, "--all", "--json"]).stdout)
        self.assertEqual(j["audit"]["foreign"], [{"seq": seq, "table": "commands", "key": str(cid),
                                                  "writer": "bastiond", "ok": False}])


class InterruptedTest(BastionTest):
    """kill -9 of bastiond while a session writes: verify says how far the
    recording verifies; the next start marks it interrupted."""

    def test_kill_9_mid_session(self):
        env = self.env
        cmd = env.ssh_base() + ["web1@127.0.0.1", "for i in $(seq 1 2000); do echo line$i; sleep 0.01; done"]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            # Past a second of output: a checkpoint beyond the markers is stored.
            for _ in range(150):
                client.stdout.readline()
            end = time.time() + 10
            while time.time() < end and not env.audit("SELECT 1 FROM recordings WHERE state='open' AND cp_events > 2"):
                time.sleep(0.05)
            cp = env.audit("SELECT cp_events FROM recordings")[0][0]
            path = env.audit("SELECT path FROM recordings")[0][0]
            # Output after the checkpoint, flushed to the file, before the kill.
            while time.time() < end:
                with open(path, "rb") as f:
                    if len(f.read().splitlines()) - 1 > cp + 5:
                        break
                time.sleep(0.02)
            env.bastion.proc.send_signal(signal.SIGKILL)
            env.bastion.proc.wait()
        finally:
            client.kill()
            client.wait()
            client.stdout.close()
        sid, path, state, cp = env.audit("SELECT session_id, path, state, cp_events FROM recordings")[0]
        self.assertEqual(state, "open")
        with open(path, "rb") as f:
            events = len(f.read().splitlines()) - 1
        pub = os.path.join(env.bastion.data, "audit_signing_key.pub")
        with open(path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        t_cp = event_time(lines[cp])
        # The tail after the last checkpoint was written within the last
        # second before the kill: reported, not a failure.
        expected = (f"interrupted: verified up to event {cp} (t={t_cp} s); {events - cp} later events written in "
                    "the last 2 s before the stop cannot be verified")
        r = run([BASTIONCTL, "verify", "--config", env.bastion.conf, sid, "--json"])
        rec = json.loads(r.stdout)["recordings"][0]
        self.assertEqual(rec["result"], expected)
        self.assertGreater(events, cp)
        self.assertEqual((rec["ok"], r.returncode), (True, 0), r.stdout)
        # The next bastiond marks the row (and its session) interrupted and signs that.
        env.bastion.logf.close()
        env.start_bastion()
        self.assertEqual(env.audit("SELECT state FROM recordings"), [("interrupted",)])
        self.assertEqual(env.audit("SELECT end_reason FROM sessions WHERE id=?", (sid,)),
                         [("interrupted (bastiond stopped without closing it)",)])
        r = run([BASTIONCTL, "verify", "--db", os.path.join(env.bastion.data, "audit.db"), "--key", pub, sid])
        out = r.stdout.decode()
        self.assertIn(f"recording {sid} channel 0 ({path}): {expected}\n", out)
        self.assertRegex(out, r"audit chain: OK \(\d+ entries, signed up to entry \d+ at \S+Z, head [0-9a-f]{64}\)\n")
        self.assertEqual(r.returncode, 0, out)
        # A tail spanning more than 2 s of recording time is not what a kill leaves.
        last = float(lines[-1].split(b",")[0][1:])
        with open(path, "ab") as f:
            f.write(f'[{last + 2.5:.6f}, "o", "later\\r\\n"]\n'.encode())
        span = "%.2f" % (float(f"{last + 2.5:.6f}") - float(lines[cp].split(b",")[0][1:]))
        r = run([BASTIONCTL, "verify", "--db", os.path.join(env.bastion.data, "audit.db"), "--key", pub, sid])
        out = r.stdout.decode()
        self.assertIn(f"recording {sid} channel 0 ({path}): interrupted: verified up to event {cp} (t={t_cp} s); "
                      f"{events + 1 - cp} later events unverifiable (they span {span} s of recording time, "
                      "more than 2 s)\n", out)
        self.assertEqual(r.returncode, 1, out)


class RetentionTest(BastionTest):
    bastion_options = {"extra": 'retention = "2s"'}

    def ended_session(self):
        s = Session(self.env)
        # Past retention: the session ended more than 2 s ago.
        end = time.time() + 10
        while time.time() < end:
            ended = self.env.audit("SELECT ended_at FROM sessions WHERE id=?", (s.id,))[0][0]
            if time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3)) > ended:
                break
            time.sleep(0.1)
        return s

    def verify_pruned(self, s, by):
        end = time.time() + 10
        while True:
            r = run([BASTIONCTL, "verify", "--config", self.env.bastion.conf, s.id])
            if r.returncode == 0 or time.time() > end:
                break
            time.sleep(0.1)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        m = re.search(rf"recording {s.id} channel 0 \({re.escape(s.path)}\): pruned at (\S+) by (.*)\n", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(2), by)
        self.assertEqual(self.env.audit("SELECT state, pruned_at, pruned_by FROM recordings WHERE session_id=?",
                                        (s.id,)), [("pruned", m.group(1), by)])
        self.assertFalse(os.path.exists(s.path))

    def test_prune_command(self):
        s = self.ended_session()
        dry = run([BASTIONCTL, "recordings", "prune", "--config", self.env.bastion.conf, "--dry-run"])
        self.assertEqual(dry.stdout.decode(), f"would prune {s.path}\n1 recording(s) past retention\n")
        self.assertTrue(os.path.exists(s.path))
        r = run([BASTIONCTL, "recordings", "prune", "--config", self.env.bastion.conf])
        self.assertEqual((r.returncode, r.stdout.decode()), (0, f"pruned {s.path}\n1 recording(s) pruned\n"))
        import pwd
        self.verify_pruned(s, f"bastionctl ({pwd.getpwuid(os.getuid()).pw_name})")

    def test_prune_at_bastiond_start(self):
        s = self.ended_session()
        self.env.start_bastion(**self.bastion_options)
        self.verify_pruned(s, "bastiond (retention 2s)")


if __name__ == "__main__":
    main()
