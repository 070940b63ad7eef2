"""Attacks on tamper evidence (issue 15, second round): someone who can write
DATA_DIR (recordings, audit.db) but cannot read the audit signing key hides
or changes what an auditor relies on, and `bastionctl verify` must fail.

Each test is a recipe an attacker can run with sqlite3 and a text editor."""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time

from harness import BASTIONCTL, BastionTest, main, run
from test_verify import Session, iso, write_policy


def forge_entry(db, table, key, writer, at):
    """Appends a well-formed chain entry for TABLE's current row KEY, with the
    canonical JSON (checkpoint columns left out) and hash bastiond uses."""
    db.row_factory = sqlite3.Row
    row = dict(db.execute(f"SELECT * FROM {table} WHERE CAST(id AS TEXT)=?", (key,)).fetchone())
    db.row_factory = None
    row = {k: v for k, v in row.items() if not k.startswith("cp_")}
    row_json = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    seq, prev = db.execute("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1").fetchone()
    seq += 1
    entry = json.dumps([seq, table, key, row_json, writer, at], separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256((prev + "\n" + entry).encode()).hexdigest()
    db.execute("INSERT INTO audit_chain (seq, tbl, row_key, row_json, prev_hash, hash, writer, at) "
               "VALUES (?,?,?,?,?,?,?,?)", (seq, table, key, row_json, prev, digest, writer, at))
    return seq


class AttackBase(BastionTest):
    """A bastion with test_verify's policy; no tests of its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.start_bastion(extra=write_policy(cls.env))

    def db(self):
        return sqlite3.connect(os.path.join(self.env.bastion.data, "audit.db"))

    def verify_all(self):
        r = run([BASTIONCTL, "verify", "--config", self.env.bastion.conf, "--all"], timeout=60)
        return r.returncode, r.stdout.decode()

    def wait_anchor_over(self, seq):
        end = time.time() + 10
        while time.time() < end and not self.env.audit("SELECT 1 FROM audit_anchors WHERE seq >= ?", (seq,)):
            time.sleep(0.05)
        self.assertTrue(self.env.audit("SELECT 1 FROM audit_anchors WHERE seq >= ?", (seq,)))


class ForgedPrune(AttackBase):
    def test_forged_prune_hides_a_fresh_recording(self):
        # No retention is configured and the session ended a moment ago: no
        # prune could have happened. The attacker deletes the recording and
        # marks its row pruned with an entry claiming a bastionctl prune.
        s = Session(self.env)
        rid = self.env.audit("SELECT id FROM recordings WHERE session_id=?", (s.id,))[0][0]
        os.remove(s.path)
        db = self.db()
        db.execute("UPDATE recordings SET state='pruned', pruned_at=?, pruned_by='bastionctl (root)' WHERE id=?",
                   (iso(time.time()), rid))
        db.execute("DELETE FROM recording_checkpoints WHERE recording_id=?", (rid,))
        seq = forge_entry(db, "recordings", str(rid), "bastionctl recordings prune (root)", iso(time.time()))
        db.commit()
        db.close()
        self.wait_anchor_over(seq)
        rc, out = self.verify_all()
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.endswith("verify: FAILED\n"), out)



class KillLeniency(AttackBase):
    def test_kill_9_leniency_after_a_clean_stop(self):
        # A denied command, then a clean stop (the head is signed at close).
        # While bastiond is down the attacker turns the decision into allow
        # and appends an entry claiming bastiond, dated just after its last
        # anchor, as if a kill -9 had cut it off before signing; the next
        # start names it foreign.
        env = self.env
        r = env.ssh("web1", "forbidden")
        self.assertNotEqual(r.returncode, 0)
        env.audit_eventually("SELECT COUNT(*) FROM commands WHERE text='forbidden' AND decision='deny' "
                             "AND ended_at IS NOT NULL", [(1,)])
        cid = env.audit("SELECT id FROM commands WHERE text='forbidden' AND decision='deny'")[0][0]
        env.bastion.stop()
        db = self.db()
        last_at = db.execute("SELECT (julianday(at) - 2440587.5) * 86400.0 FROM audit_anchors "
                             "ORDER BY id DESC LIMIT 1").fetchone()[0]
        db.execute("UPDATE commands SET decision='allow', reason='' WHERE id=?", (cid,))
        seq = forge_entry(db, "commands", str(cid), "bastiond", iso(last_at + 0.5))
        db.commit()
        db.close()
        env.start_bastion(extra=write_policy(env))
        self.wait_anchor_over(seq)
        rc, out = self.verify_all()
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.endswith("verify: FAILED\n"), out)


class InterruptedTruncation(AttackBase):
    def test_interrupted_recording_cut_back_to_an_earlier_checkpoint(self):
        # A recording cut by kill -9 after several signed checkpoints. Its
        # row's checkpoint columns are not chained and recording_checkpoints
        # is not chained: the attacker drops the later checkpoints, puts an
        # earlier (genuinely signed) one back in the row and truncates the
        # file there. Everything after that checkpoint is gone.
        env = self.env
        cmd = env.ssh_base() + ["web1@127.0.0.1", "for i in $(seq 1 2000); do echo line$i; sleep 0.01; done"]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            end = time.time() + 20
            while time.time() < end and not env.audit(
                    "SELECT 1 FROM recording_checkpoints GROUP BY recording_id HAVING COUNT(*) >= 4"):
                client.stdout.readline()
            env.bastion.proc.send_signal(signal.SIGKILL)
            env.bastion.proc.wait()
        finally:
            client.kill()
            client.wait()
            client.stdout.close()
        env.bastion.logf.close()
        env.bastion = None
        env.start_bastion(extra=write_policy(env))
        rid, sid, path, state = env.audit("SELECT id, session_id, path, state FROM recordings")[0]
        self.assertEqual(state, "interrupted")
        cps = env.audit("SELECT events, bytes, digest, signature FROM recording_checkpoints "
                        "WHERE recording_id=? ORDER BY events", (rid,))
        self.assertGreaterEqual(len(cps), 4)
        r = run([BASTIONCTL, "verify", "--config", env.bastion.conf, sid])
        self.assertEqual(r.returncode, 0, r.stdout)
        # Keep the second checkpoint (past the exec and decision markers).
        events, nbytes, digest, sig = cps[1]
        db = self.db()
        db.execute("DELETE FROM recording_checkpoints WHERE recording_id=? AND events > ?", (rid, events))
        db.execute("UPDATE recordings SET cp_events=?, cp_bytes=?, cp_digest=?, cp_signature=? WHERE id=?",
                   (events, nbytes, digest, sig, rid))
        db.commit()
        db.close()
        with open(path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with open(path, "wb") as f:
            f.write(b"".join(lines[:events + 1]))  # the header and EVENTS events
        r = run([BASTIONCTL, "verify", "--config", env.bastion.conf, sid])
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 1, out)
        self.assertTrue(out.endswith("verify: FAILED\n"), out)


if __name__ == "__main__":
    main()
