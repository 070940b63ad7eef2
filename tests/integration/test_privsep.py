"""Privilege separation and held credentials: bastiond started as root with
`user = "bastion-it"` binds, then runs as that user (all four ids), with core
dumps off and not dumpable; credential files are read once at load and
refused when group- or world-readable."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import unittest

import pg_cluster
from harness import BASTIOND, BastionTest, Env, main, run, wait_port

USER = "bastion-it"
POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")
created_user = False


def setUpModule():
    global created_user
    if os.getuid() != 0:
        raise unittest.SkipTest("privilege separation tests run as root (as in CI)")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        created_user = True


def tearDownModule():
    if created_user:
        run(["userdel", USER], check=True)


def proc_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    return None


def loose_copy(env, mode, key="held_key", extra_conf=None):
    """A copy of the test's config and keys with one key file at `mode`."""
    d = tempfile.mkdtemp(prefix="loose-", dir=env.d)
    os.chmod(d, 0o755)
    shutil.copytree(env.pristine_keys, os.path.join(d, "keys"))
    conf = os.path.join(d, "bastion.conf")
    with open(env.bastion.conf) as f:
        text = f.read()
    if extra_conf:
        text = extra_conf(text)
    with open(conf, "w") as f:
        f.write(text)
    path = os.path.join(d, "keys", key)
    os.chmod(path, mode)
    return conf, path


def free_low_port():
    for port in range(700, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    raise RuntimeError("no free port below 1024")


def give_to(d, pw):
    for root, dirs, files in os.walk(d):
        for p in [root] + [os.path.join(root, f) for f in files]:
            os.chown(p, pw.pw_uid, pw.pw_gid)


def start_fails(conf):
    """bastiond (not --check) must exit 1 before listening."""
    p = subprocess.run([BASTIOND, "--config", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.returncode, p.stdout.decode()


class PrivsepTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        u = pwd.getpwnam(USER)
        cls.uid, cls.gid = u.pw_uid, u.pw_gid
        # The credentials read once: a target whose identity file is deleted
        # later, and PostgreSQL targets with a password file and a passfile.
        shutil.copy(env.target_key, os.path.join(env.keys.d, "held_key"))
        os.chmod(os.path.join(env.keys.d, "held_key"), 0o600)
        env.pg = pg_cluster.PostgresCluster(os.path.join(env.d, "pg"))
        r = env.pg.psql(None, input=b"CREATE ROLE bastion_svc LOGIN PASSWORD 'held-secret-pw';"
                                    b"CREATE DATABASE shop OWNER bastion_svc;")
        assert r.returncode == 0, r.stderr
        for name, text in (("pg_password", "held-secret-pw\n"),
                           ("pgpass", f"127.0.0.1:{env.pg.port}:shop:bastion_svc:held-secret-pw\n")):
            with open(os.path.join(env.keys.d, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(env.keys.d, name), 0o600)
        env.pristine_keys = os.path.join(env.d, "pristine-keys")  # before the read-once tests delete files
        shutil.copytree(env.keys.d, env.pristine_keys)
        policy = os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua"))
        pg = lambda name, cred: f"""  {name} = {{ type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "shop",
           user = "bastion_svc", {cred}, sslmode = "disable", allow = {{ "ops" }}, policy = "{policy}" }},"""
        held = f"""  held = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
           identity = "keys/held_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }} }},"""
        env.start_bastion(extra=f'user = "{USER}"',
                          targets="\n".join([env.default_targets(), held, pg("pgpw", 'password_file = "keys/pg_password"'),
                                             pg("pgpass", 'passfile = "keys/pgpass"')]))
        cls.pid = env.bastion.proc.pid

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.env.pg.stop()

    def test_runs_as_the_user_after_binding(self):
        self.assertEqual(proc_field(self.pid, "Uid"), [str(self.uid)] * 4)
        self.assertEqual(proc_field(self.pid, "Gid"), [str(self.gid)] * 4)
        self.assertEqual(proc_field(self.pid, "Groups"), [str(self.gid)])
        self.assertEqual(proc_field(self.pid, "CapEff"), ["0000000000000000"])
        self.assertEqual(proc_field(self.pid, "CapPrm"), ["0000000000000000"])
        # data_dir was created for the user, and what is in it is the user's.
        for p in ("data", "data/audit.db", "data/recordings", "data/mask.key"):
            self.assertEqual(os.stat(os.path.join(self.env.d, p)).st_uid, self.uid, p)

    def test_no_core_dumps_and_not_dumpable(self):
        with open(f"/proc/{self.pid}/limits") as f:
            core = [l.split() for l in f if l.startswith("Max core file size")]
        self.assertEqual(core, [["Max", "core", "file", "size", "0", "0", "bytes"]])
        # A non-dumpable process's /proc entries belong to root, not to its user.
        st = os.stat(f"/proc/{self.pid}/status")
        self.assertEqual((st.st_uid, st.st_gid), (0, 0))

    def test_exec_end_to_end_with_recording_and_audit(self):
        r = self.env.ssh("web1", "echo privsep-ok")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"privsep-ok\n", b""))
        rows = self.env.audit_eventually(
            "SELECT c.kind, c.decision, c.exit_status, s.target, s.identity FROM commands c "
            "JOIN sessions s ON s.id = c.session_id WHERE c.text = 'echo privsep-ok'",
            [("exec", "allow", 0, "web1", "alice")])
        self.assertEqual(rows, [("exec", "allow", 0, "web1", "alice")])
        path = self.env.audit("SELECT recording FROM commands WHERE text = 'echo privsep-ok'")[0][0]
        self.assertEqual(os.stat(path).st_uid, self.uid)
        with open(path, "rb") as f:
            self.assertIn(b"privsep-ok", f.read())

    def test_identity_is_read_once(self):
        os.unlink(os.path.join(self.env.keys.d, "held_key"))
        r = self.env.ssh("held", "echo still-connects")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"still-connects\n", b""))

    def test_postgres_credentials_are_read_once(self):
        for target, f in (("pgpw", "pg_password"), ("pgpass", "pgpass")):
            os.unlink(os.path.join(self.env.keys.d, f))
            r = self.env.ssh(target, "SELECT current_user AS who")
            self.assertEqual((r.returncode, r.stdout.decode(), r.stderr),
                             (0, "     who     \n-------------\n bastion_svc\n(1 row)\n\n", b""), target)

    def test_loose_credential_files_are_refused(self):
        for key, mode, field in (("held_key", 0o644, "targets.held.identity"),
                                 ("held_key", 0o640, "targets.held.identity"),
                                 ("pg_password", 0o604, "targets.pgpw.password_file"),
                                 ("pgpass", 0o660, "targets.pgpass.passfile")):
            conf, path = loose_copy(self.env, mode, key)
            expected = f"{field}: {path}: mode {mode:04o} is readable by group or others (chmod 600)\n"
            r = run([BASTIOND, "--check", "--config", conf])
            self.assertEqual(r.returncode, 1)
            self.assertTrue(r.stderr.decode().startswith(f"bastiond: {conf}:"), r.stderr)
            self.assertTrue(r.stderr.decode().endswith(expected), r.stderr)
            self.assertNotIn(b"held-secret-pw", r.stderr)
            rc, err = start_fails(conf)
            self.assertEqual(rc, 1)
            self.assertTrue(err.endswith(expected), err)

    def test_data_dir_not_writable_by_the_user_is_refused(self):
        conf, _ = loose_copy(self.env, 0o600, extra_conf=lambda t: t.replace('data_dir = "data"', 'data_dir = "rootdata"'))
        data = os.path.join(os.path.dirname(conf), "rootdata")
        os.makedirs(data, mode=0o755)
        expected = (f'data_dir: {data} is not writable by user "{USER}" (chown -R {USER} {data})\n')
        r = run([BASTIOND, "--check", "--config", conf])
        self.assertEqual((r.returncode, r.stderr.decode()), (1, "bastiond: " + expected))
        rc, err = start_fails(conf)
        self.assertEqual(rc, 1)
        self.assertIn(f'"error":"{expected.strip()}"'.replace('"' + USER + '"', '\\"' + USER + '\\"'), err)

    def test_missing_user_is_a_config_error(self):
        conf, _ = loose_copy(self.env, 0o600, extra_conf=lambda t: t.replace(f'user = "{USER}"', 'user = "no-such-user-x"'))
        r = run([BASTIOND, "--check", "--config", conf])
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr.decode(), r'^bastiond: .*bastion\.conf:\d+: user: no such user "no-such-user-x" '
                                            r'\(create it, e\.g\. useradd --system no-such-user-x\)\n$')

    def test_started_as_another_user_is_an_error(self):
        conf, _ = loose_copy(self.env, 0o600)
        d = os.path.dirname(conf)
        nobody = pwd.getpwnam("nobody")
        give_to(d, nobody)
        r = run(["runuser", "-u", "nobody", "--", BASTIOND, "--check", "--config", conf])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(), f'bastiond: user = "{USER}" needs bastiond started as root (or as {USER}); '
                                            f"it runs as uid {nobody.pw_uid}\n")

    def test_started_as_the_user_with_a_bind_capability_drops_it(self):
        """The systemd unit's model: User=bastion, CAP_NET_BIND_SERVICE as an
        ambient capability for a low port; bastiond binds, then holds none."""
        port = free_low_port()
        conf, _ = loose_copy(self.env, 0o600, extra_conf=lambda t: t.replace(
            f'listen = "127.0.0.1:{self.env.bastion.port}"', f'listen = "127.0.0.1:{port}"'))
        give_to(os.path.dirname(conf), pwd.getpwnam(USER))
        log = open(os.path.join(os.path.dirname(conf), "bastiond.log"), "wb")
        p = subprocess.Popen(["setpriv", "--reuid", USER, "--regid", USER, "--init-groups",
                              "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service",
                              BASTIOND, "--config", conf], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port)
            for field in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                self.assertEqual(proc_field(p.pid, field), ["0000000000000000"], field)
            self.assertEqual(proc_field(p.pid, "Uid"), [str(self.uid)] * 4)
            with open(f"/proc/{p.pid}/limits") as f:
                self.assertIn(["Max", "core", "file", "size", "0", "0", "bytes"], [l.split() for l in f])
            self.assertEqual(os.stat(f"/proc/{p.pid}/status").st_uid, 0)  # not dumpable
            cmd = self.env.ssh_base() + ["-p", str(port), "web1@127.0.0.1", "echo low-port-ok"]
            r = run(cmd)
            self.assertEqual((r.returncode, r.stdout), (0, b"low-port-ok\n"), r.stderr)
        finally:
            p.terminate()
            p.wait(timeout=15)
            log.close()


if __name__ == "__main__":
    main()
