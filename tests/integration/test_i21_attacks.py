"""Outside review of issue 21 (targets as SSH subsystems, several targets on
one connection): attacks on the per-channel target choice, on revocation
between decisions, on the audit trail of refused channels, and on the
limits. Each test asserts what a fail-closed bastion must do; tests of holes
not yet fixed are marked expectedFailure with a `# HOLE:` comment."""
import os
import socket
import time
import unittest

import paramiko

import sshproto
from harness import BastionTest, Env, free_port, main

LOGIN = "bastion"  # the reserved login name: no target

# web2's policy: ops connect with the "deploy" credential; a target labelled
# env=prod is closed to them.
WEB2_POLICY = r"""
function on_session(s)
  if s.target.labels.env == "prod" then return deny("prod is closed") end
  return allow{ credential = "deploy" }
end
function on_command(c)
  return allow{ reason = "as " .. tostring(c.session.credential) }
end
"""

# web3's policy: an idle web3 channel closes after 3 seconds.
WEB3_POLICY = r"""
function on_session(s) return allow{ idle_timeout = 3 } end
function on_command(c) return allow() end
"""


class I21AttackTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        try:
            with open(os.path.join(env.d, "web2.lua"), "w") as f:
                f.write(WEB2_POLICY)
            web2 = f"""
  web2 = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           labels = {{ env = "staging" }},
           credentials = {{ deploy = {{ user = "{env.user}", identity = "keys/target_key" }} }},
           policy = "web2.lua" }},"""
            with open(os.path.join(env.d, "web3.lua"), "w") as f:
                f.write(WEB3_POLICY)
            web3 = f"""
  web3 = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           policy = "web3.lua" }},"""
            db2 = f"""
  db2 = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
          identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "dba" }},
          approvers = {{ "oncall" }} }},"""
            env.start_bastion(targets=env.default_targets() + web2 + web3 + db2,
                              limits="login_grace_time = 5, max_targets_per_session = 2, max_channels_per_session = 4")
        except BaseException:
            env.close()
            raise

    # --- helpers ---------------------------------------------------------------

    def transport(self, login=LOGIN, key=None):
        t = sshproto.connect(self.env.bastion.port, login, key or self.env.alice)
        self.addCleanup(t.close)
        return t

    def subsystem(self, t, name, stdin=b"", timeout=20):
        """(status, stdout, stderr) of a subsystem channel NAME fed STDIN then EOF."""
        ch = t.open_session(timeout=timeout)
        ch.settimeout(timeout)
        ch.invoke_subsystem(name)
        try:
            if stdin:
                ch.sendall(stdin)
            ch.shutdown_write()
        except OSError:
            pass  # refused at once: the channel closed before its input
        return sshproto.finish(ch)

    def session_id(self, t):
        """The sessions row of the connection `t` (the newest one)."""
        del t
        return self.env.audit("SELECT id FROM sessions ORDER BY rowid DESC LIMIT 1")[0][0]

    def reload(self, text):
        self.assertTrue(self.env.bastion.rewrite_config_and_reload(text), "no reload")

    def config(self):
        with open(self.env.bastion.conf) as f:
            return f.read()

    # --- 1. reload between decisions on a shared connection ---------------------

    def test_reload_removing_the_credential_closes_new_channels_on_a_shared_connection(self):
        # The connection authenticated before the reload; web2's first channel
        # comes after it. on_session (the live policy) still names "deploy",
        # which the live configuration no longer holds: the channel must be
        # refused, not connected with the credential the reload removed.
        t = self.transport()
        self.assertEqual(self.subsystem(t, "web1", b"echo warm\n")[:2], (0, b"warm\n"))
        good = self.config()
        self.addCleanup(self.reload, good)
        self.reload(good.replace("deploy = { user", "deployed = { user", 1))
        status, out, err = self.subsystem(t, "web2", b"echo ran-with-removed-credential\n")
        self.assertEqual((status, out, err), (1, b"", b"bastion: target 'web2' holds no credential 'deploy'\n"))
        sid = self.session_id(t)
        self.assertEqual(self.env.audit("SELECT decision, json_extract(details, '$.channel_target') FROM commands "
                                        "WHERE session_id = ? AND kind = 'session' ORDER BY id", (sid,)),
                         [("allow", "web1"), ("deny", "web2")])

    def test_reload_relabelling_a_target_reaches_a_shared_connection(self):
        t = self.transport()
        self.assertEqual(self.subsystem(t, "web1", b"echo warm\n")[:2], (0, b"warm\n"))
        good = self.config()
        self.addCleanup(self.reload, good)
        self.reload(good.replace('labels = { env = "staging" }', 'labels = { env = "prod" }', 1))
        status, out, err = self.subsystem(t, "web2", b"echo ran-in-prod\n")
        self.assertEqual((status, out, err), (1, b"", b"bastion: session denied: prod is closed\n"))

    def test_reload_moving_a_target_reaches_a_shared_connection_s_first_channel(self):
        # The connection logged in before the reload moved web2 to a port
        # nothing listens on: web2's first channel must connect where the
        # live configuration says, not where the login-time one did.
        t = self.transport()
        self.assertEqual(self.subsystem(t, "web1", b"echo warm\n")[:2], (0, b"warm\n"))
        good = self.config()
        self.addCleanup(self.reload, good)
        dead = free_port()
        old = f'web2 = {{ type = "ssh", host = "127.0.0.1", port = {self.env.target.port},'
        self.assertIn(old, good)
        self.reload(good.replace(old, f'web2 = {{ type = "ssh", host = "127.0.0.1", port = {dead},', 1))
        status, out, err = self.subsystem(t, "web2", b"echo ran-at-the-old-address\n")
        self.assertEqual((status, out), (255, b""))
        self.assertTrue(err.startswith(f"bastion: target web2 (127.0.0.1:{dead}) unreachable: ".encode()), err)

    def test_reload_replacing_key_material_reaches_a_shared_connection_s_first_channel(self):
        # The reload gives web2's "deploy" credential a key the target does
        # not accept: a connection that logged in before it must connect with
        # that key (and be refused), not with the one the reload replaced.
        t = self.transport()
        self.assertEqual(self.subsystem(t, "web1", b"echo warm\n")[:2], (0, b"warm\n"))
        good = self.config()
        self.addCleanup(self.reload, good)
        self.env.keys.keygen("unknown_to_target")
        old = 'deploy = { user = "%s", identity = "keys/target_key" }' % self.env.user
        self.assertIn(old, good)
        self.reload(good.replace(old, old.replace("keys/target_key", "keys/unknown_to_target"), 1))
        status, out, err = self.subsystem(t, "web2", b"echo ran-with-the-replaced-key\n")
        self.assertEqual((status, out, err),
                         (255, b"", b"bastion: target web2 (127.0.0.1:%d): the target refused the bastion's "
                          b"credential\n" % self.env.target.port))

    def test_a_withdrawn_target_s_onward_connection_is_closed(self):
        # After a reload withdrew web1, the shared connection stays open (for
        # other targets) but must not keep web1's authenticated onward
        # connection: every connection the target's sshd accepted ends.
        t = self.transport()
        ch = t.open_session(timeout=10)
        ch.settimeout(20)
        ch.invoke_subsystem("web1")
        ch.sendall(b"echo held\n")
        self.assertEqual(ch.recv(100), b"held\n")
        good = self.config()
        self.addCleanup(self.reload, good)
        web1_allow = 'allow = { "ops" },\n           labels = { env = "test" }'
        self.assertIn(web1_allow, good)
        self.reload(good.replace(web1_allow, 'allow = { "dba" },\n           labels = { env = "test" }'))
        self.assertEqual(sshproto.finish(ch)[0:3:2],
                         (255, b'bastion: your access to "web1" was withdrawn; its channels were closed\n'))
        self.assertTrue(t.is_active())
        end = time.time() + 10
        while time.time() < end:
            with open(self.env.target.log) as f:
                log = f.read()
            opened, closed = log.count("Accepted publickey"), log.count("Disconnected from user")
            if opened == closed:
                break
            time.sleep(0.05)
        self.assertEqual(closed, opened, "the target still holds an onward connection")
        self.assertTrue(t.is_active())

    def test_an_expired_grant_opens_no_new_channel(self):
        # alice (ops) reaches db2 (dba only) through a just-in-time grant of a
        # few seconds. While a channel on it is open, a new one right after
        # the expiry must be refused: the expiry is known, not polled.
        t = self.transport(login="access")
        self.assertEqual(sshproto.run(t, "request db2 --for 6s --reason i21")[0], 0)
        rid = self.env.audit("SELECT max(id) FROM approval_requests")[0][0]
        carol = self.env.keys.cert(self.env.keys.keygen("carol"), self.env.ca, "carol", "oncall")
        a = self.transport(login="approvals", key=carol)
        self.assertEqual(sshproto.run(a, "approve %d" % rid)[0], 0)
        expires = self.env.audit("SELECT grant_expires_at FROM approval_requests WHERE id = ?", (rid,))[0][0]
        # A revocation is polled every 2 s from the grant's first check: start
        # on a second of the other parity than the expiry's, so no poll falls
        # on it and only a known expiry can refuse the next channel in time.
        while (expires - int(time.time())) % 2 == 0 or time.time() % 1 > 0.5:
            time.sleep(0.02)
        t = self.transport()
        held = t.open_session(timeout=10)
        held.settimeout(20)
        held.invoke_subsystem("db2")
        held.sendall(b"echo granted\n")
        self.assertEqual(held.recv(100), b"granted\n")
        while time.time() < expires + 0.05:
            time.sleep(0.01)  # just past the grant's end
        status, out, err = self.subsystem(t, "db2", b"echo after-expiry\n")
        self.assertEqual((status, out), (1, b""), err)
        self.assertIn(err, (b'bastion: access to target "db2" is not allowed for alice; request access with: '
                            b'ssh access@bastion request db2 --for 1h --reason "..."\n',
                            b"bastion: your access grant #%d has expired; its channels were closed\n" % rid))

    # --- timeouts of one target's on_session --------------------------------------

    def test_one_target_s_idle_timeout_holds_while_another_target_is_busy(self):
        # web3's on_session closes idle channels after 3 s. A web3 shell left
        # idle on a connection whose web1 channel stays busy must still close.
        t = self.transport()
        idle = t.open_session(timeout=10)
        idle.settimeout(20)
        idle.invoke_subsystem("web3")
        idle.sendall(b"echo idle-start\n")
        self.assertEqual(idle.recv(100), b"idle-start\n")
        busy = t.open_session(timeout=10)
        busy.settimeout(20)
        busy.invoke_subsystem("web1")
        end = time.time() + 6  # twice web3's idle timeout, web1 busy all along
        while time.time() < end and not idle.exit_status_ready():
            busy.sendall(b"echo tick\n")
            self.assertEqual(busy.recv(100), b"tick\n")
            time.sleep(0.3)  # activity on web1 only
        self.assertEqual(sshproto.finish(idle), (255, b"", b'bastion: idle timeout on "web3"; its channels were closed\n'))
        busy.sendall(b"echo web1-alive\n")
        busy.shutdown_write()
        self.assertEqual(sshproto.finish(busy)[:2], (0, b"web1-alive\n"))

    # --- 3. the audit trail: every channel has its decision row ------------------

    def test_a_refused_subsystem_target_leaves_a_deny_row(self):
        # alice (ops) may not use db1 (dba only): on a login-named connection
        # the sessions row names db1; on a shared one only a row of the
        # channel can say what was tried.
        t = self.transport()
        for name, reason in (("db1", 'bastion: access to target "db1" is not allowed for alice'),
                             ("nosuch", 'bastion: unknown target "nosuch"')):
            with self.subTest(name=name):
                self.assertEqual(self.subsystem(t, name), (1, b"", (reason + "\n").encode()))
        sid = self.session_id(t)
        self.assertEqual(self.env.audit_eventually(
            "SELECT channel, kind, text, decision, reason FROM commands WHERE session_id = ? ORDER BY id",
            [(0, "subsystem", "db1", "deny", reason) for reason in
             ['access to target "db1" is not allowed for alice']] +
            [(1, "subsystem", "nosuch", "deny", 'unknown target "nosuch"')], (sid,)),
            [(0, "subsystem", "db1", "deny", 'access to target "db1" is not allowed for alice'),
             (1, "subsystem", "nosuch", "deny", 'unknown target "nosuch"')])

    def test_a_refused_file_transfer_leaves_a_deny_row(self):
        # approvals/sftp: the reserved target is let in (its session row),
        # the sftp channel on it is refused; its own row must say so.
        t = self.transport()
        self.assertEqual(self.subsystem(t, "approvals/sftp"),
                         (1, b"", b"bastion: file transfer is not available on approvals targets\n"))
        self.assertEqual(self.env.audit_eventually(
            "SELECT channel, kind, text, decision, reason, json_extract(details, '$.channel_target') FROM commands "
            "WHERE session_id = ? ORDER BY id",
            [(-1, "session", "", "allow", "", "approvals"),
             (0, "subsystem", "sftp", "deny", "file transfer is not available on approvals targets", "approvals")],
            (self.session_id(t),)),
            [(-1, "session", "", "allow", "", "approvals"),
             (0, "subsystem", "sftp", "deny", "file transfer is not available on approvals targets", "approvals")])

    # --- what held -------------------------------------------------------------

    def test_names_that_are_no_target_are_refused(self):
        t = self.transport()
        cases = {
            "WEB1": b'bastion: unknown target "WEB1"\n',
            "web1 ": b'bastion: unknown target "web1 "\n',
            " web1": b'bastion: unknown target " web1"\n',
            "web1/sftp/x": b'bastion: unknown target "web1/sftp/x"\n',
            "web1/../db1": b'bastion: unknown target "web1/../db1"\n',
            "db1/sftp": b'bastion: access to target "db1" is not allowed for alice\n',
            "approvals/sftp": b"bastion: file transfer is not available on approvals targets\n",
            "targets/sftp": b'bastion: unknown target "targets"\n',
        }
        for name, err in cases.items():
            with self.subTest(name=name[:20]):
                self.assertEqual(self.subsystem(t, name), (1, b"", err))
        # A very long name is refused at the request (the channel closes).
        with self.assertRaises(paramiko.SSHException):
            self.subsystem(t, "x" * 5000)
        t = self.transport()
        # A NUL ends the name where libssh reads it: "db1\0..." is db1, refused.
        self.assertEqual(self.subsystem(t, "db1\0web1"),
                         (1, b"", b'bastion: access to target "db1" is not allowed for alice\n'))

    def test_force_command_certificate_cannot_choose_a_target(self):
        # The forced command replaces the subsystem request: no target is named.
        key = self.env.keys.cert(self.env.keys.keygen("forced"), self.env.ca, "fay", "ops",
                                 options=("force-command=echo forced",))
        t = self.transport(key=key)
        for name in ("web1", "web1/sftp", "targets"):
            with self.subTest(name=name):
                self.assertEqual(self.subsystem(t, name), (1, b"", b'bastion: unknown target "bastion"\n'
                                                                   b"bastion: usage: ssh TARGET@bastion [command]\n"
                                                                   b"bastion: targets you may use: dead, web1, web2, web3\n"))

    def test_abrupt_channel_churn_leaves_bastiond_serving(self):
        # Channels to two targets opened and dropped mid-start, many times on
        # one connection: nothing leaks past the limits, bastiond keeps serving.
        t = self.transport()
        for i in range(30):
            ch = t.open_session(timeout=10)
            ch.invoke_subsystem(("web1", "web2", "targets", "db1")[i % 4])
            ch.close()
        end = time.time() + 15
        while True:
            try:
                self.assertEqual(self.subsystem(t, "web2", b"echo alive\n")[:2], (0, b"alive\n"))
                break
            except paramiko.ChannelException:
                if time.time() > end:
                    raise
                time.sleep(0.1)
        self.assertEqual(self.env.bastion.proc.poll(), None)

    def test_picker_shown_before_a_subsystem_channel_cannot_retarget_it(self):
        # The picker is on screen; then a channel chooses web1; then the pick:
        # refused (it would move web1's channel to another session target).
        t = self.transport()
        picker = t.open_session(timeout=10)
        picker.settimeout(20)
        picker.get_pty(term="xterm", width=100, height=30)
        picker.invoke_shell()
        buf = b""
        while b"Esc quits" not in buf:
            buf += picker.recv(4096)
        web = t.open_session(timeout=10)
        web.settimeout(20)
        web.invoke_subsystem("web1")
        web.sendall(b"echo on-web1\n")
        self.assertEqual(web.recv(100), b"on-web1\n")
        picker.sendall(b"web2\r")
        out = b""
        while True:
            d = picker.recv(4096)
            if not d:
                break
            out += d
        self.assertIn(b'bastion: target "web2" is not open to you now', out)
        self.assertEqual(picker.recv_exit_status(), 1)
        web.sendall(b"echo still\n")
        web.shutdown_write()
        self.assertEqual(sshproto.finish(web)[:2], (0, b"still\n"))
        sid = self.session_id(t)
        self.assertEqual(self.env.audit("SELECT target FROM sessions WHERE id = ?", (sid,)), [("bastion",)])
        self.assertEqual(self.env.audit("SELECT count(*) FROM commands WHERE session_id = ? AND kind = 'pick'", (sid,)),
                         [(0,)])

    def test_reserved_logins_keep_their_one_target(self):
        # approvals@ / access@ / audit@ logins name a target: a subsystem
        # naming another is refused, whatever the reserved name.
        for login in ("approvals", "access", "audit"):
            with self.subTest(login=login):
                t = self.transport(login=login)
                self.assertEqual(self.subsystem(t, "web1"), (1, b"", b"bastion: this connection is for %s; "
                                                                    b"use ssh -s bastion web1\n" % login.encode()))

    def test_exec_target_slash_sftp_on_a_login_named_connection_is_a_command(self):
        # `sftp -s db1/sftp web1@bastion` is no way to db1: the exec runs on
        # web1 as a command (and so fails there), not routed.
        t = self.transport(login="web1")
        status, out, err = sshproto.run(t, "db1/sftp")
        self.assertEqual(status, 127)
        self.assertEqual(self.env.audit("SELECT kind, text, json_extract(details, '$.channel_target') FROM commands "
                                        "WHERE session_id = ? AND kind = 'exec'", (self.session_id(t),)),
                         [("exec", "db1/sftp", None)])

    def test_target_limit_and_channel_limit_hold_under_churn(self):
        # Channels opened and closed in a loop on two targets (upstreams
        # opened and closed each time) and a third refused each time: the
        # limits hold and bastiond keeps serving.
        t = self.transport()
        for i in range(4):
            self.assertEqual(self.subsystem(t, "web1", b"echo %d\n" % i)[:2], (0, b"%d\n" % i))
        chans = []
        for name in ("web1", "web2"):
            ch = t.open_session(timeout=10)
            ch.invoke_subsystem(name)
            chans.append(ch)
        self.assertEqual(self.subsystem(t, "dead")[0:3:2],
                         (1, b"bastion: too many targets on one connection (limits.max_targets_per_session = 2)\n"))
        # Four channels at most: two held, a third and fourth open, a fifth refused.
        more = [t.open_session(timeout=10) for _ in range(2)]
        with self.assertRaises(paramiko.ChannelException):
            t.open_session(timeout=10)
        for ch in chans + more:
            ch.close()
        end = time.time() + 10
        while time.time() < end:
            try:
                self.assertEqual(self.subsystem(t, "web1", b"echo after\n")[:2], (0, b"after\n"))
                break
            except paramiko.ChannelException:
                time.sleep(0.1)  # the closed channels are released on the next pass
        else:
            self.fail("channels never released")

    def test_targets_listing_names_only_usable_targets_and_is_audited(self):
        bob = self.env.keys.cert(self.env.keys.keygen("bob"), self.env.ca, "bob", "dev")
        t = self.transport(key=bob)
        self.assertEqual(self.subsystem(t, "targets"), (0, b"", b""))
        self.assertEqual(self.subsystem(t, "web1"),
                         (1, b"", b'bastion: access to target "web1" is not allowed for bob\n'))
        t = self.transport()
        self.assertEqual(self.subsystem(t, "targets"), (0, b"dead\nweb1\nweb2\nweb3\n", b""))
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, text, decision FROM commands WHERE session_id = ?",
            [("subsystem", "targets", "allow")], (self.session_id(t),)), [("subsystem", "targets", "allow")])


if __name__ == "__main__":
    main()
