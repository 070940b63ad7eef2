"""What an auditor asks bastionctl, against real sessions through bastiond:
audit sessions|commands|auth with every filter, --json, the header row,
session show, and an auth row for every login attempt (plain key, expired
certificate)."""
import json
import os
import socket
import subprocess
import time

import paramiko

from harness import BASTIONCTL, BastionTest, Env, main, run

POLICY = r'''
function on_command(c)
  if c.text:find("^echo held") then
    return review{ reason = "held for the audit", approvers = { "oncall" }, timeout = 30 }
  end
  if c.text:find("^echo quick") then
    return review{ reason = "short review", approvers = { "oncall" }, timeout = 1 }
  end
  if c.text:find("[Rr][Mm] %-[Rr][Ff]") then return deny("no recursive delete") end
  return allow()
end
'''

OLD_START = "2026-01-01T08:00:00.000Z"


class AuditCliTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        try:
            cls.build(env)
        except BaseException:
            env.close()
            raise

    other_methods = []

    @classmethod
    def build(cls, env):
        k = env.keys
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.bob = k.cert(k.keygen("bob"), env.ca, "bob", "ops,oncall")
        env.dave = k.cert(k.keygen("dave"), env.ca, "dave", "dba")
        env.start_bastion(extra='policy = "policy.lua"')
        cls.db = os.path.join(env.d, "data", "audit.db")

        def sid_of(text):
            rows = env.audit("SELECT DISTINCT session_id FROM commands WHERE text=?", (text,))
            assert len(rows) == 1, (text, rows)
            return rows[0][0]

        def pending(text):
            end = time.time() + 10
            while time.time() < end:
                rows = env.audit("SELECT id FROM approval_requests WHERE command_text=? AND state='pending'", (text,))
                if rows:
                    return rows[0][0]
                time.sleep(0.05)
            raise AssertionError(f"no pending request for {text}")

        def held(text):
            return subprocess.Popen(env.ssh_base() + ["web1@127.0.0.1", text],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        # A session moved back in time, as if from January.
        assert env.ssh("web1", "echo old-session").returncode == 0
        cls.old = sid_of("echo old-session")
        env.audit_eventually("SELECT count(*) FROM sessions WHERE id=? AND ended_at IS NOT NULL", [(1,)], (cls.old,))
        with __import__("sqlite3").connect(cls.db) as db:
            db.execute("UPDATE sessions SET started_at=?, ended_at='2026-01-01T08:00:05.000Z' WHERE id=?",
                       (OLD_START, cls.old))
            db.execute("UPDATE commands SET at='2026-01-01T08:00:01.000Z' WHERE session_id=?", (cls.old,))

        assert env.ssh("web1", "echo Hello-Audit").returncode == 0
        cls.hello = sid_of("echo Hello-Audit")
        r = env.ssh("web1", "RM -RF /nonexistent/AuditDir")
        assert r.returncode != 0
        cls.rm = sid_of("RM -RF /nonexistent/AuditDir")
        assert env.ssh("web1", "echo 'line1\nline2-escaped'").returncode == 0
        assert env.ssh("db1", "echo on-db1", key=env.dave).returncode == 0
        cls.db1 = sid_of("echo on-db1")

        # Reviewed: approved by an approver, denied with bastionctl, timed out.
        p = held("echo held-approved")
        cls.approved_req = pending("echo held-approved")
        r = env.ssh("approvals", ["approve", str(cls.approved_req), "--comment", "looks fine"], key=env.bob)
        assert r.returncode == 0, r.stderr
        out, err = p.communicate(timeout=30)
        assert (p.returncode, out) == (0, b"held-approved\n"), err
        cls.approved = sid_of("echo held-approved")

        p = held("echo held-denied")
        cls.denied_req = pending("echo held-denied")
        r = run([BASTIONCTL, "approvals", "--db", cls.db, "deny", str(cls.denied_req), "--reason", "not today"])
        assert r.returncode == 0, r.stderr
        p.communicate(timeout=30)
        assert p.returncode == 126

        p = held("echo quick-expiring")
        cls.expired_req = pending("echo quick-expiring")
        p.communicate(timeout=30)
        assert p.returncode == 126

        # Login attempts that are not sessions.
        plain = k.keygen("plain_only")
        plain_copy = plain + "_nocert"
        for suffix in ("", ".pub"):
            with open(plain + suffix, "rb") as src, open(plain_copy + suffix, "wb") as dst:
                dst.write(src.read())
        os.chmod(plain_copy, 0o600)
        r = env.ssh("web1", "true", key=plain_copy)
        assert r.returncode == 255
        fp = run(["ssh-keygen", "-lf", plain_copy + ".pub"]).stdout.decode().split()[1]
        cls.plain_reason = f"not a certificate: plain key ssh-ed25519 {fp} offered; a user certificate is required"
        # The row for a declined plain key is written as its connection ends
        # (checked in test_auth_rows_for_every_attempt).
        env.audit_eventually("SELECT reason FROM auth_events WHERE accepted=0", [(cls.plain_reason,)])
        expired = k.cert(k.keygen("eve"), env.ca, "eve-expired", "ops", validity="-2h:-1h")
        r = env.ssh("web1", "true", key=expired)
        assert r.returncode == 255
        # Methods the bastion does not offer, from a client that tries anyway.
        for method in ("password", "keyboard-interactive", "none"):
            sock = socket.create_connection(("127.0.0.1", env.bastion.port), timeout=10)
            t = paramiko.Transport(sock)
            try:
                t.start_client(timeout=10)
                if method == "password":
                    t.auth_password("web1", "hunter2")
                elif method == "keyboard-interactive":
                    t.auth_interactive("web1", lambda title, instructions, prompts: ["hunter2"] * len(prompts))
                else:
                    t.auth_none("web1")
            except paramiko.BadAuthenticationType as e:
                assert e.allowed_types == ["publickey"], e.allowed_types
            else:
                raise AssertionError(f"{method} was not refused")
            finally:
                t.close()
            # One row each, in order (checked in test_auth_rows_for_every_attempt).
            env.audit_eventually("SELECT count(*) FROM auth_events WHERE accepted=0", [(len(cls.other_methods) + 3,)],
                                 timeout=5)
            cls.other_methods.append(method)
        # Every session row is final before the listings are compared.
        env.audit_eventually("SELECT count(*) FROM sessions WHERE ended_at IS NULL", [(0,)])

    def ctl(self, *args, rc=0):
        r = run([BASTIONCTL, *args])
        self.assertEqual(r.returncode, rc, r.stderr)
        return r

    def table(self, *args):
        lines = self.ctl("audit", *args, "--db", self.db).stdout.decode().split("\n")
        self.assertEqual(lines[-1], "")
        return [line.split("\t") for line in lines[:-1]]

    def sessions(self, *args):
        rows = self.table("sessions", *args)
        self.assertEqual(rows[0], ["STARTED", "ENDED", "SESSION", "IDENTITY", "TARGET", "SOURCE", "END_REASON",
                                   "EXIT", "COMMANDS"])
        return [r[2] for r in rows[1:]]

    def commands(self, *args):
        rows = self.table("commands", *args)
        self.assertEqual(rows[0], ["TIME", "SESSION", "IDENTITY", "TARGET", "KIND", "DECISION", "REASON", "APPROVAL",
                                   "APPROVER", "EXIT", "RECORDING", "TEXT"])
        return rows[1:]

    def all_sessions(self):
        return [r[0] for r in self.env.audit("SELECT id FROM sessions ORDER BY started_at DESC, id DESC")]

    # -- sessions ----------------------------------------------------------
    def test_since_and_until(self):
        everyone = self.all_sessions()
        self.assertEqual(everyone[-1], self.old)
        self.assertEqual(self.sessions("--limit", "1000"), everyone)
        self.assertEqual(self.sessions("--since", "1h"), everyone[:-1])
        self.assertEqual(self.sessions("--since", "2026-01-02"), everyone[:-1])
        self.assertEqual(self.sessions("--until", "2026-01-01T09:00:00Z"), [self.old])
        self.assertEqual(self.sessions("--since", "2026-01-01T08:00:06Z", "--until", "2026-01-01T09:00"), [])
        r = self.ctl("audit", "sessions", "--db", self.db, "--since", "2026-01-01T08:00:05Z", "--until", "2026-01-01",
                     rc=2)
        self.assertEqual(r.stderr.decode(), "bastionctl: --since is after --until\n")
        self.assertEqual(self.sessions("--since", "2026-01-01T08:00:05Z", "--until", "2026-01-01T08:00:05Z"),
                         [self.old])
        self.assertEqual([r[1] for r in self.table("commands", "--until", "2026-01-02")[1:]],
                         [self.old, self.old])

    def test_identity_target_and_session_filters(self):
        self.assertEqual(self.sessions("--identity", "dave"), [self.db1])
        self.assertEqual(self.sessions("--target", "db1"), [self.db1])
        self.assertEqual(self.sessions("--identity", "alice", "--target", "db1"), [])
        self.assertEqual(self.sessions("--session", self.rm), [self.rm])
        self.assertEqual(self.sessions("--decision", "deny"), [self.rm])
        self.assertEqual({r[1] for r in self.commands("--session", self.hello)}, {self.hello})
        self.assertEqual([(r[2], r[3], r[11]) for r in self.commands("--identity", "dave", "--kind", "exec")],
                         [("dave", "db1", "echo on-db1")])
        self.assertEqual([r[11] for r in self.commands("--target", "db1")], ["echo on-db1", ""])
        self.assertEqual([r[4] for r in self.commands("--session", self.db1)], ["exec", "session"])

    def test_decision_and_kind(self):
        rows = self.commands("--decision", "deny")
        rec = self.env.audit("SELECT recording FROM commands WHERE decision='deny'")[0][0]
        self.assertEqual([(r[1], r[4], r[5], r[6], r[10], r[11]) for r in rows],
                         [(self.rm, "exec", "deny", "no recursive delete", rec, "RM -RF /nonexistent/AuditDir")])
        self.assertEqual(sorted(r[11] for r in self.commands("--decision", "review")),
                         ["echo held-approved", "echo held-denied", "echo quick-expiring"])
        kinds = {r[4] for r in self.commands("--kind", "session", "--limit", "1000")}
        self.assertEqual(kinds, {"session"})
        r = self.ctl("audit", "commands", "--db", self.db, "--decision", "maybe", rc=2)
        self.assertEqual(r.stderr.decode(), "bastionctl: --decision maybe: one of allow, mask, review, deny\n")

    def test_grep_is_case_insensitive_substring_full_text(self):
        for pattern in ("rm -rf", "RM -rf /NON", "nexistent/auditd", "-R"):
            self.assertEqual([r[11] for r in self.commands("--grep", pattern)], ["RM -RF /nonexistent/AuditDir"],
                             pattern)
        self.assertEqual([r[11] for r in self.commands("--grep", "hello-AUDIT")], ["echo Hello-Audit"])
        self.assertEqual(self.commands("--grep", '" OR "'), [])
        self.assertEqual(self.sessions("--grep", "ON-DB1"), [self.db1])
        # The index serves the search: it exists and holds every command.
        self.assertEqual(self.env.audit("SELECT count(*) FROM commands_fts WHERE commands_fts MATCH '\"rm -rf\"'"),
                         [(1,)])
        # A value cannot add a row: the newline is shown as \n.
        rows = self.commands("--grep", "line2-escaped")
        self.assertEqual([r[11] for r in rows], ["echo 'line1\\nline2-escaped'"])

    def test_approval_outcome_and_approver(self):
        rows = self.commands("--decision", "review")
        got = {r[11]: (r[7], r[8]) for r in rows}
        self.assertEqual(got, {"echo held-approved": (f"#{self.approved_req} approved", "bob"),
                               "echo held-denied": (f"#{self.denied_req} denied", f"admin:{self.env.user}"),
                               "echo quick-expiring": (f"#{self.expired_req} expired", "")})
        ran = [r for r in self.commands("--grep", "held-approved") if r[5] == "allow"]
        self.assertEqual([(r[6], r[7], r[8], r[9]) for r in ran],
                         [(f"approved in request #{self.approved_req} by bob", f"#{self.approved_req} approved",
                           "bob", "0")])
        path = self.env.audit("SELECT recording FROM commands WHERE text='echo held-approved' AND decision='allow'")
        self.assertEqual(ran[0][10], path[0][0])
        self.assertTrue(os.path.exists(path[0][0]))

    def test_json_is_every_field(self):
        r = self.ctl("audit", "commands", "--db", self.db, "--grep", "held-approved", "--json")
        doc = json.loads(r.stdout)
        self.assertEqual(list(doc), ["commands"])
        cols = ("id", "session_id", "channel", "at", "kind", "text", "decision", "reason", "policy_hash",
                "policy_hook", "policy_source", "recording", "recording_state", "ended_at", "exit_status",
                "bytes_in", "bytes_out")
        rows = self.env.audit(f"SELECT {', '.join(cols)} FROM commands WHERE text='echo held-approved' ORDER BY id DESC")
        self.assertEqual((len(doc["commands"]), len(rows)), (2, 2))
        for got, want in zip(doc["commands"], rows):
            for k, v in zip(cols, want):
                self.assertEqual(got[k], "" if v is None and k not in ("exit_status",) else v, k)
            self.assertEqual((got["identity"], got["target"], got["source_address"]), ("alice", "web1", "127.0.0.1"))
            a = got["approval"]
            req = self.env.audit("SELECT id, state, reason, approvers, min_approvals, created_at, expires_at, "
                                 "decided_at, decided_by FROM approval_requests WHERE id=?", (self.approved_req,))[0]
            self.assertEqual((a["id"], a["state"], a["reason"], a["approvers"], a["min_approvals"], a["created_at"],
                              a["expires_at"], a["decided_at"], a["decided_by"]), req)
            self.assertEqual((a["outcome"], a["approved_by"]), ("approved", "bob"))
            vote = self.env.audit("SELECT approver, decision, comment, at FROM approval_votes WHERE request_id=?",
                                  (self.approved_req,))
            self.assertEqual([(v["approver"], v["decision"], v["comment"], v["at"]) for v in a["votes"]], vote)
        r = self.ctl("audit", "sessions", "--db", self.db, "--session", self.db1, "--json")
        s = json.loads(r.stdout)["sessions"]
        cols = ("id", "identity", "principals", "cert_serial", "key_id", "ca_fingerprint", "source_address",
                "target", "started_at", "ended_at", "end_reason", "exit_status", "bytes_in", "bytes_out",
                "recording_path")
        want = self.env.audit(f"SELECT {', '.join(cols)} FROM sessions WHERE id=?", (self.db1,))
        self.assertEqual([tuple(x[k] for k in cols) for x in s], want)
        self.assertEqual(s[0]["commands"], 2)

    def test_config_finds_the_store_and_bad_options_are_named(self):
        conf = os.path.join(self.env.d, "bastion.conf")
        by_config = self.ctl("audit", "sessions", "--config", conf).stdout
        self.assertEqual(by_config, self.ctl("audit", "sessions", "--db", self.db).stdout)
        r = self.ctl("audit", "commands", "--db", self.db, "--frobnicate", "1", rc=2)
        self.assertTrue(r.stderr.decode().startswith('bastionctl: audit commands: unknown option --frobnicate\n'),
                        r.stderr)
        r = self.ctl("audit", "sessions", "--db", self.db, "--since", "10", rc=2)
        self.assertEqual(r.stderr.decode(), "bastionctl: --since 10: not a duration (10m, 2h, 7d) or a timestamp "
                                            "(2026-11-30T10:00:00Z)\n")
        r = self.ctl("audit", "sessions", "--db", self.db, "--until", "2026-02-30", rc=2)
        self.assertEqual(r.stderr.decode(), "bastionctl: --until 2026-02-30: not a timestamp (2026-11-30, "
                                            "2026-11-30T10:00, 2026-11-30T10:00:00Z; UTC)\n")
        r = self.ctl("audit", "sessions", "--since", "1h", rc=2)
        self.assertEqual(r.stderr.decode(), "bastionctl: the audit store: --config FILE or --db FILE\n")
        r = self.ctl("session", "show", self.hello, "--db", self.db, "--bogus", rc=2)
        self.assertTrue(r.stderr.decode().startswith('bastionctl: session show: unknown option --bogus\n'))
        r = self.ctl("session", "show", "no-such-session", "--db", self.db, rc=1)
        self.assertEqual(r.stderr.decode(), "bastionctl: no session no-such-session\n")

    # -- auth ----------------------------------------------------------------
    def test_auth_rows_for_every_attempt(self):
        rows = self.table("auth", "--decision", "refused", "--target", "web1")
        self.assertEqual(rows[0], ["TIME", "SOURCE", "USER", "KEY_ID", "SERIAL", "RESULT", "REASON"])
        got = [r[1:] for r in rows[1:]]
        self.assertEqual(got, [["127.0.0.1", "web1", "", "0", "refused", "no certificate offered"],
                               ["127.0.0.1", "web1", "", "0", "refused", "keyboard-interactive authentication is not "
                                                                         "accepted; a user certificate is required"],
                               ["127.0.0.1", "web1", "", "0", "refused", "password authentication is not accepted; "
                                                                         "a user certificate is required"],
                               ["127.0.0.1", "web1", "eve-expired", "0", "refused", "certificate expired"],
                               ["127.0.0.1", "web1", "", "0", "refused", self.plain_reason]])
        doc = json.loads(self.ctl("audit", "auth", "--db", self.db, "--identity", "eve-expired", "--json").stdout)
        self.assertEqual([(a["user"], a["key_id"], a["accepted"], a["reason"]) for a in doc["auth"]],
                         [("web1", "eve-expired", False, "certificate expired")])
        accepted = self.table("auth", "--decision", "accepted", "--identity", "dave")
        self.assertEqual([r[1:] for r in accepted[1:]], [["127.0.0.1", "db1", "dave", "0", "accepted", "accepted"]])
        # A normal login (plain key offered before the certificate) leaves only its accepted row.
        n = len(self.table("auth", "--limit", "1000")) - 1
        flood = self.env.audit("SELECT count(*) FROM auth_events WHERE user='flood'")[0][0]
        self.assertEqual(n, self.env.audit("SELECT count(*) FROM sessions")[0][0] + 5 + flood)  # a login is a session

    def test_password_guessing_is_bounded(self):
        # One row per attempt, and the connection is cut after 6 refusals.
        sock = socket.create_connection(("127.0.0.1", self.env.bastion.port), timeout=10)
        t = paramiko.Transport(sock)
        tries = 0
        try:
            t.start_client(timeout=10)
            for _ in range(20):
                try:
                    t.auth_password("flood", "guess")
                except paramiko.BadAuthenticationType:
                    tries += 1
                except (paramiko.SSHException, EOFError, OSError):
                    break
        finally:
            t.close()
        self.assertEqual(tries, 5)  # the 6th is answered by the disconnect
        rows = self.env.audit_eventually("SELECT reason FROM auth_events WHERE user='flood'",
                                         [("password authentication is not accepted; a user certificate is "
                                           "required",)] * 6)
        self.assertEqual(len(rows), 6)

    # -- session show ----------------------------------------------------------
    def test_session_show(self):
        sid = self.approved
        s = self.env.audit("SELECT started_at, ended_at, end_reason, bytes_in, bytes_out, cert_serial, ca_fingerprint "
                           "FROM sessions WHERE id=?", (sid,))[0]
        cmds = self.env.audit("SELECT id, at, channel, kind, text, decision, reason, policy_hook, policy_source, "
                              "ended_at, exit_status, bytes_in, bytes_out, recording, recording_state FROM commands "
                              "WHERE session_id=? ORDER BY id", (sid,))
        req = self.env.audit("SELECT created_at, expires_at, decided_at FROM approval_requests WHERE id=?",
                             (self.approved_req,))[0]
        vote_at = self.env.audit("SELECT at FROM approval_votes WHERE request_id=?", (self.approved_req,))[0][0]
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        out = self.ctl("session", "show", sid, "--config", os.path.join(self.env.d, "bastion.conf")).stdout.decode()
        want = [f"session: {sid}", "identity: alice", "principals: ops",
                f"certificate: serial {s[5]}, key ID alice, CA {s[6]}", "source: 127.0.0.1", "target: web1",
                f"started: {s[0]}", f"ended: {s[1]} ({s[2]})", "exit: 0", f"bytes: {s[3]} in, {s[4]} out",
                f"commands: {len(cmds)}"]
        review = (f"  review: request #{self.approved_req} approved by bob at {iso(req[2])} (approvers oncall, "
                  f"1 needed, asked {iso(req[0])}, expires {iso(req[1])})")
        vote = f"    vote: bob approve at {iso(vote_at)}: looks fine"
        recs = []
        for (cid, at, ch, kind, text, dec, reason, hook, src, ended, exit_status, bi, bo, rec, rstate) in cmds:
            want.append(f"command #{cid}: {at} channel {ch} {kind}" + (f": {text}" if text else ""))
            want.append(f"  decision: {dec}" + (f": {reason}" if reason else "") +
                        (f" ({hook}" + (f" {src}" if src else "") + ")" if hook or src else ""))
            if kind == "exec":
                want += [review, vote]
            if ended or exit_status is not None:
                want.append(f"  ended: {ended or '-'}" + (f", exit {exit_status}" if exit_status is not None else "") +
                            f", {bi} bytes in, {bo} out")
            if rec:
                want.append(f"  recording: {rec}")
                recs.append(rec)
        # The held row and the approved run share one recording, listed once.
        self.assertEqual(len(set(recs)), 1)
        last = cmds[-1]
        want += ["recordings: 1", f"recording: {last[13]} ({last[14]}, command #{last[0]})"]
        # The recording's integrity data (the recordings table).
        fields = ("state", "events", "bytes", "digest", "closed_at", "pruned_at")
        integ = self.env.audit(f"SELECT {', '.join(fields)} FROM recordings WHERE path=?", (last[13],))
        self.assertEqual(len(integ), 1)
        self.assertEqual(integ[0][0], "closed")
        want.append("  integrity: " + " ".join(f"{k}={v}" for k, v in zip(fields, integ[0]) if v not in (None, "")))
        self.assertEqual(out.split("\n"), want + [""])
        self.assertEqual([c[5] for c in cmds], ["allow", "review", "allow"])  # session, held, then run
        doc = json.loads(self.ctl("session", "show", sid, "--db", self.db, "--json").stdout)
        self.assertEqual(doc["session"]["id"], sid)
        self.assertEqual([c["decision"] for c in doc["commands"]], ["allow", "review", "allow"])
        self.assertEqual(doc["commands"][2]["approval"]["votes"][0]["comment"], "looks fine")


if __name__ == "__main__":
    main()
