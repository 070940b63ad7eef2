"""Users know why and what next: the exact lines a real ssh client shows for
its own certificate's refusal (a userauth banner, only after the client
signed with the certified key), for a login name that is no target (usage,
the targets this identity may use, a picker with a pty), for refused access
(how to request it) and for refused forwarding."""
import os
import shutil
import socket
import subprocess
import time

from harness import BastionTest, Env, main, run, free_port
from pty_driver import PtySession

HINT = "renew it with: get-cert --renew"


def bastion_lines(stderr):
    return [l for l in stderr.decode(errors="replace").splitlines() if l.startswith("bastion:")]


class CertificateBannerTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Revoked: serial 666 (the KRL must exist before bastiond reads it).
        env = cls.env
        spec = os.path.join(env.keys.d, "krl_spec")
        with open(spec, "w") as f:
            f.write("serial: 666\n")
        run(["ssh-keygen", "-q", "-k", "-f", os.path.join(env.keys.d, "revoked.krl"), "-s", env.ca + ".pub", spec],
            check=True)
        env.start_bastion(extra=f'renew_hint = "{HINT}"\nrevoked_keys = "keys/revoked.krl"')

    def mint(self, name, **kw):
        key = self.env.keys.keygen(name)
        return self.env.keys.cert(key, self.env.ca, **kw)

    def login(self, key, loglevel="INFO", target="web1", extra=()):
        b = self.env.bastion
        cmd = ["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
               "-o", f"LogLevel={loglevel}", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
               "-i", key, *extra, "-p", str(b.port), "-T", f"{target}@127.0.0.1", "echo in"]
        return run(cmd, timeout=30)

    def assert_banner(self, key, expected, audit_reason):
        r = self.login(key)
        self.assertEqual(r.returncode, 255, r.stderr)
        self.assertEqual(bastion_lines(r.stderr), expected, r.stderr)
        self.assertIn(b"Permission denied (publickey)", r.stderr)
        # Still a refusal like any other: audited with the log reason, so
        # per-source penalties count it.
        rows = self.env.audit("SELECT reason FROM auth_events WHERE accepted=0 AND key_id=?",
                              (os.path.basename(key),))
        self.assertIn((audit_reason,), rows)

    def test_expired(self):
        key = self.mint("ex", identity="ex", validity="20200101000000Z:20200101123456Z")
        self.assert_banner(key, [f"bastion: your certificate expired at 2020-01-01 12:34Z; {HINT}"],
                           "certificate expired")

    def test_not_yet_valid(self):
        key = self.mint("nyv", identity="nyv", validity="20990101000000Z:20990102000000Z")
        self.assert_banner(key, ["bastion: your certificate is not valid before 2099-01-01 00:00Z; "
                                 f"check this computer's clock, or {HINT}"], "certificate not yet valid")

    def test_no_principals(self):
        key = self.mint("nop", identity="nop", principals=None)
        self.assert_banner(key, [f"bastion: your certificate names no principals; {HINT}"],
                           "certificate has no principals")

    def test_wrong_source_address(self):
        key = self.mint("src", identity="src", options=["source-address=10.1.2.0/24"])
        self.assert_banner(key, ["bastion: your certificate may be used only from 10.1.2.0/24, not from 127.0.0.1; "
                                 f"log in from an allowed address, or {HINT}"],
                           'source address 127.0.0.1 not in "10.1.2.0/24"')

    def test_two_problems_two_lines(self):
        key = self.mint("two", identity="two", validity="20200101000000Z:20200101123456Z",
                        options=["source-address=10.1.2.0/24"])
        self.assert_banner(key, [f"bastion: your certificate expired at 2020-01-01 12:34Z; {HINT}",
                                 "bastion: your certificate may be used only from 10.1.2.0/24, not from 127.0.0.1; "
                                 f"log in from an allowed address, or {HINT}"],
                           'certificate expired; source address 127.0.0.1 not in "10.1.2.0/24"')

    def test_revoked_stays_silent_even_when_expired(self):
        key = self.mint("rev", identity="rev", serial=666, validity="20200101000000Z:20200101123456Z")
        r = self.login(key)
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)
        self.assertIn(b"Permission denied (publickey)", r.stderr)

    def test_foreign_ca_stays_silent(self):
        other = self.env.keys.keygen("foreign_ca")
        key = self.env.keys.cert(self.env.keys.keygen("foreign"), other, identity="foreign",
                                 validity="20200101000000Z:20200101123456Z")
        r = self.login(key)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)

    def test_unsigned_query_gets_no_reason(self):
        # A stolen certificate without its private key: the client can only
        # ask; it is never told why the certificate would be refused.
        key = self.mint("stolen", identity="stolen", validity="20200101000000Z:20200101123456Z")
        d = os.path.join(self.env.d, "stolen_only")
        os.makedirs(d, exist_ok=True)
        for suffix in (".pub", "-cert.pub"):
            shutil.copy(key + suffix, os.path.join(d, "stolen" + suffix))
        stolen = os.path.join(d, "stolen")
        r = self.login(stolen + ".pub", extra=("-o", f"CertificateFile={stolen}-cert.pub"))
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)
        why = ("certificate offered but not signed for (no private key); "
               "it would be refused: certificate expired")
        rows = self.env.audit_eventually("SELECT reason FROM auth_events WHERE key_id='stolen'", [(why,)])
        self.assertEqual(rows, [(why,)])

    def test_quiet_client_sees_nothing(self):
        key = self.mint("quiet", identity="quiet", validity="20200101000000Z:20200101123456Z")
        r = self.login(key, loglevel="QUIET")
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [])

    def test_valid_certificate_still_logs_in(self):
        r = self.login(self.env.alice)
        self.assertEqual((r.returncode, r.stdout), (0, b"in\n"), r.stderr)
        self.assertEqual(bastion_lines(r.stderr), [])


class NoDetailTest(BastionTest):
    bastion_options = {"extra": 'auth_failure_detail = "none"'}

    def test_none_keeps_openssh_silence(self):
        key = self.env.keys.cert(self.env.keys.keygen("ex"), self.env.ca, identity="ex",
                                 validity="20200101000000Z:20200101123456Z")
        b = self.env.bastion
        r = run(["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                 "-o", "LogLevel=INFO", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", key,
                 "-p", str(b.port), "-T", "web1@127.0.0.1", "true"], timeout=30)
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)
        self.assertIn(b"Permission denied (publickey)", r.stderr)
        self.assertIn(("certificate expired",), self.env.audit("SELECT reason FROM auth_events WHERE key_id='ex'"))


CLOSED = 'function on_session(s) return deny("closed for maintenance") end\n'
SILENT = 'function on_command(c) return deny("") end\n'


class TargetsTest(BastionTest):
    """alice (principal ops) may use web1, dead and quiet1; db1 (dba, with
    approvers) takes access requests; closed lets ops in by allow but its
    policy denies every session; hidden is dba's only."""

    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        try:
            for name, text in (("closed.lua", CLOSED), ("silent.lua", SILENT)):
                with open(os.path.join(env.d, name), "w") as f:
                    f.write(text)
            base = env.default_targets().replace('allow = { "dba" } }', 'allow = { "dba" }, approvers = { "oncall" } }')
            common = (f'type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}", '
                      'identity = "keys/target_key", known_hosts = "keys/known_hosts"')
            targets = base + f"""
  closed = {{ {common}, allow = {{ "ops" }}, policy = "closed.lua" }},
  quiet1 = {{ {common}, allow = {{ "ops" }}, policy = "silent.lua" }},
  hidden = {{ {common}, allow = {{ "dba" }} }},"""
            env.start_bastion(targets=targets)
        except BaseException:
            env.close()
            raise

    def test_unknown_target_lists_usage_and_usable_targets(self):
        r = self.env.ssh("root", "uname")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr.decode().splitlines(), [
            'bastion: unknown target "root"',
            "bastion: usage: ssh TARGET@bastion [command]",
            "bastion: targets you may use: dead, quiet1, web1"])

    def test_unknown_target_with_no_usable_target(self):
        nobody = self.env.keys.cert(self.env.keys.keygen("nobody"), self.env.ca, "nobody", "guest")
        r = self.env.ssh("root", key=nobody)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode().splitlines(), [
            'bastion: unknown target "root"',
            "bastion: usage: ssh TARGET@bastion [command]",
            "bastion: no target is open to you now"])

    def test_refusal_says_how_to_request_access(self):
        r = self.env.ssh("db1", "uname")
        self.assertEqual(r.returncode, 1)
        line = ('bastion: access to target "db1" is not allowed for alice; request access with: '
                'ssh access@bastion request db1 --for 1h --reason "..."')
        self.assertEqual(r.stderr.decode().splitlines(), [line])
        # The syntax named is the real one.
        r = self.env.ssh("access", ["request", "db1", "--for", "1h", "--reason", '"INC-1"'])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.env.audit("SELECT target, requester FROM approval_requests WHERE target='db1'")
        self.assertIn(("db1", "alice"), rows)

    def test_refusal_without_approvers_says_nothing_more(self):
        r = self.env.ssh("hidden", "uname")
        self.assertEqual(r.stderr, b'bastion: access to target "hidden" is not allowed for alice\n')

    def test_empty_policy_reason_still_has_a_reason(self):
        r = self.env.ssh("quiet1", "uname")
        self.assertEqual(r.returncode, 126)
        self.assertEqual(r.stderr, b"bastion: denied: the policy gave no reason\n")

    def test_local_forward_refusal_has_a_reason(self):
        lport = free_port()
        p = subprocess.Popen(self.env.ssh_base(extra=["-o", "LogLevel=ERROR", "-L",
                                                      f"{lport}:127.0.0.1:{self.env.target.port}"])
                             + ["web1@127.0.0.1", "read x; echo done"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            end = time.time() + 10
            while True:  # the listener exists once ssh has logged in
                try:
                    with socket.create_connection(("127.0.0.1", lport), timeout=5) as s:
                        s.settimeout(5)
                        self.assertEqual(s.recv(100), b"")
                    break
                except ConnectionRefusedError:
                    self.assertLess(time.time(), end)
                    time.sleep(0.05)
            rows = self.env.audit_eventually(
                "SELECT reason FROM commands WHERE kind='forward' AND text=?",
                [("port forwarding is not allowed",)], (f"direct-tcpip to 127.0.0.1:{self.env.target.port}",))
            self.assertEqual(rows, [("port forwarding is not allowed",)])
            out, err = p.communicate(b"\n", timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(out, b"done\n")
        self.assertIn(f"bastion: refused direct-tcpip to 127.0.0.1:{self.env.target.port}: "
                      "port forwarding is not allowed", err.decode().splitlines())

    def test_remote_forward_refusal_has_a_reason(self):
        r = run(self.env.ssh_base(extra=["-R", f"{free_port()}:127.0.0.1:22"]) + ["web1@127.0.0.1", "echo hi"],
                timeout=30)
        self.assertEqual(r.stdout, b"hi\n")
        self.assertIn("bastion: refused remote port forwarding: remote port forwarding is not allowed "
                      "(a tunnel would bypass recording)", r.stderr.decode().splitlines())

    # -- the picker, through a real pseudo-terminal -----------------------
    def picker(self, key=None):
        argv = self.env.ssh_base(key=key, tty=True) + ["root@127.0.0.1"]
        s = PtySession(argv, env={"TERM": "xterm"})
        s.read_until(b"> dead\r\n  quiet1\r\n  web1\r\n")
        return s

    def test_picker_arrows_and_enter_connect(self):
        before = self.env.audit("SELECT count(*) FROM commands WHERE kind='pick'")[0][0]
        s = self.picker()
        screen = s.buf.decode(errors="replace")
        self.assertIn("bastion: pick a target (type to filter, arrows move, Enter connects, Esc quits)", screen)
        self.assertNotIn("closed", screen)  # its policy denies the session
        self.assertNotIn("hidden", screen)  # not alice's
        self.assertNotIn("db1", screen)
        s.send(b"\x1b[B\x1b[B")
        s.read_until(b"  dead\r\n  quiet1\r\n> web1\r\n")
        s.send(b"\r")
        s.read_until(b"bastion: connecting to web1")
        s.send(b"echo picked-$((6*7))\r")
        s.read_until(b"picked-42")
        s.send(b"exit\r")
        self.assertEqual(s.wait(), 0)
        rows = self.env.audit("SELECT text, decision, reason FROM commands WHERE kind='pick'")
        self.assertEqual(len(rows), before + 1)
        self.assertEqual(rows[-1], ("web1", "allow", "chosen in the target picker"))
        # Then exactly as `ssh web1@bastion`: a session decision and a shell on web1.
        sid = self.env.audit("SELECT session_id FROM commands WHERE kind='pick' ORDER BY id DESC LIMIT 1")[0][0]
        kinds = [k for (k,) in self.env.audit("SELECT kind FROM commands WHERE session_id=? ORDER BY id", (sid,))]
        self.assertEqual(kinds[:3], ["pick", "session", "shell"])
        # The sessions row names the target the session ran on, once it has ended.
        deadline = time.time() + 10
        while time.time() < deadline and not self.env.audit("SELECT ended_at FROM sessions WHERE id=?", (sid,))[0][0]:
            time.sleep(0.05)
        self.assertEqual(self.env.audit("SELECT target FROM sessions WHERE id=?", (sid,)), [("web1",)])

    def test_picker_filter_and_esc_quits(self):
        s = self.picker()
        s.send(b"web")
        s.read_until(b"filter: web\r\n\r\n> web1\r\n")
        s.send(b"\x1b")
        s.read_until(b"bastion: no target chosen")
        self.assertEqual(s.wait(), 1)

    def test_picker_ctrl_c_and_q_quit(self):
        for key in (b"\x03", b"q"):
            s = self.picker()
            s.send(key)
            s.read_until(b"bastion: no target chosen")
            self.assertEqual(s.wait(), 1)

    def test_no_picker_without_a_pty(self):
        r = self.env.ssh("root")  # -T, no command: the usage lines, not a picker
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode().splitlines()[0], 'bastion: unknown target "root"')

    def test_reserved_names_are_not_targets(self):
        r = self.env.ssh("root", "uname")
        listed = r.stderr.decode().splitlines()[-1]
        for name in ("access", "approvals", "audit"):
            self.assertNotIn(name, listed)


if __name__ == "__main__":
    main()
