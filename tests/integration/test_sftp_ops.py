"""Each sftp operation is a decided, audited command (c.kind "sftp"): real
OpenSSH sftp and paramiko through bastiond to a real sshd (internal-sftp).
A policy allows everything but writes under locked/ and reads of secret*;
each case checks the exact audit rows, the file system effect present or
absent, the message the client gets, and that the session goes on after a
refusal (a later allowed operation works)."""
import hashlib
import os

import paramiko

import sshproto
from harness import BASTIONCTL, BastionTest, Env, main, run

POLICY = r'''
local function locked(p) return p:find("/locked/", 1, true) ~= nil end

function on_command(c)
  if c.kind ~= "sftp" then return allow() end
  local s = c.sftp
  if s.op == "open" then
    if s.path:find("/secret", 1, true) then return deny("secret files stay on the host") end
    for _, m in ipairs(s.mode) do
      if m ~= "read" and locked(s.path) then return deny("locked is read-only") end
    end
    return allow()
  end
  if locked(s.path) or locked(s.target) then return deny(s.op .. " in locked is not allowed") end
  if s.op == "setstat" and s.attrs.perm == "0777" then return deny("no world-writable files") end
  return allow()
end
'''

ROWS = ("SELECT kind, text, decision, reason, exit_status, bytes_in, bytes_out FROM commands "
        "WHERE kind = 'sftp' AND id > ? ORDER BY id")


def denied(path, why):
    return ("sftp", path, "deny", why, 3, 0, 0)


def allowed(path, bytes_in=0, bytes_out=0):
    return ("sftp", path, "allow", "", 0, bytes_in, bytes_out)


class SftpOpsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.start_bastion(extra='policy = "policy.lua"')

    def setUp(self):
        # A folder of the test's own: open/ (anything goes) and locked/ (read-only by policy).
        self.d = os.path.join(self.env.d, "sftp", self._testMethodName)
        for sub in ("open", "locked"):
            os.makedirs(os.path.join(self.d, sub))
        self.open = os.path.join(self.d, "open")
        self.locked = os.path.join(self.d, "locked")
        self.mark = self.env.audit("SELECT coalesce(max(id), 0) FROM commands")[0][0]

    def rows(self):
        return self.env.audit(ROWS, (self.mark,))

    def write(self, path, data):
        with open(path, "wb") as f:
            f.write(data)
        return path

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def sftp_opts(self):
        # ssh_base ends with -T and uses -p; sftp wants -P.
        out, it = [], iter(self.env.ssh_base()[1:])
        for a in it:
            if a == "-p":
                out += ["-P", next(it)]
            elif a not in ("-T", "-tt"):
                out.append(a)
        return out

    def batch(self, lines, ok=True):
        """OpenSSH sftp -b: lines starting with '-' may fail without ending the batch."""
        r = run(["sftp", "-b", "-"] + self.sftp_opts() + ["web1@127.0.0.1"], input="\n".join(lines).encode() + b"\n")
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def notice(self, text, why):
        return f"bastion: denied: {text}: {why}".encode()

    # -- OpenSSH sftp -------------------------------------------------------

    def test_put_new(self):
        data = os.urandom(100_000)
        src = self.write(os.path.join(self.env.d, "put_new.src"), data)
        r = self.batch([f"-put {src} {self.locked}/new.bin", f"put {src} {self.open}/new.bin"])
        self.assertFalse(os.path.exists(f"{self.locked}/new.bin"))
        self.assertEqual(self.read(f"{self.open}/new.bin"), data)
        self.assertIn(self.notice(f"open {self.locked}/new.bin write,create,truncate", "locked is read-only"), r.stderr)
        self.assertEqual(self.rows(), [
            denied(f"open {self.locked}/new.bin write,create,truncate", "locked is read-only"),
            allowed(f"open {self.open}/new.bin write,create,truncate", bytes_in=len(data))])

    def test_put_over_existing_truncates_only_where_allowed(self):
        self.write(f"{self.locked}/f.txt", b"keep me\n")
        self.write(f"{self.open}/f.txt", b"old\n")
        src = self.write(os.path.join(self.env.d, "put_over.src"), b"new contents\n")
        self.batch([f"-put {src} {self.locked}/f.txt", f"put {src} {self.open}/f.txt"])
        self.assertEqual(self.read(f"{self.locked}/f.txt"), b"keep me\n")
        self.assertEqual(self.read(f"{self.open}/f.txt"), b"new contents\n")
        self.assertEqual(self.rows(), [
            denied(f"open {self.locked}/f.txt write,create,truncate", "locked is read-only"),
            allowed(f"open {self.open}/f.txt write,create,truncate", bytes_in=13)])

    def test_get(self):
        self.write(f"{self.open}/secret.txt", b"s3cr3t\n")
        data = os.urandom(70_001)
        self.write(f"{self.open}/plain.bin", data)
        back = os.path.join(self.env.d, "get_back")
        os.makedirs(back)
        self.batch([f"-get {self.open}/secret.txt {back}/secret.txt", f"get {self.open}/plain.bin {back}/plain.bin"])
        self.assertFalse(os.path.exists(f"{back}/secret.txt"))
        self.assertEqual(self.read(f"{back}/plain.bin"), data)
        self.assertEqual(self.rows(), [
            denied(f"open {self.open}/secret.txt read", "secret files stay on the host"),
            allowed(f"open {self.open}/plain.bin read", bytes_out=len(data))])

    def test_rm(self):
        for d in (self.locked, self.open):
            self.write(f"{d}/gone", b"x")
        r = self.batch([f"-rm {self.locked}/gone", f"rm {self.open}/gone"])
        self.assertTrue(os.path.exists(f"{self.locked}/gone"))
        self.assertFalse(os.path.exists(f"{self.open}/gone"))
        self.assertIn(self.notice(f"remove {self.locked}/gone", "remove in locked is not allowed"), r.stderr)
        self.assertEqual(self.rows(), [denied(f"remove {self.locked}/gone", "remove in locked is not allowed"),
                                       allowed(f"remove {self.open}/gone")])
        # What an auditor finds.
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "audit", "commands", "--db", db, "--grep", f"remove {self.d}/"])
        self.assertEqual(r.returncode, 0, r.stderr)
        found = [[f[i] for i in (4, 5, 9, 11)] for f in (line.split("\t") for line in r.stdout.decode().splitlines()[1:])]
        self.assertEqual(found, [["sftp", "allow", "0", f"remove {self.open}/gone"],
                                 ["sftp", "deny", "3", f"remove {self.locked}/gone"]])

    def test_rename_is_posix_rename_with_openssh(self):
        self.write(f"{self.open}/a", b"a")
        self.write(f"{self.open}/b", b"b")
        self.batch([f"-rename {self.open}/a {self.locked}/a", f"rename {self.open}/b {self.open}/b2"])
        self.assertEqual(sorted(os.listdir(self.open)), ["a", "b2"])
        self.assertEqual(os.listdir(self.locked), [])
        self.assertEqual(self.rows(), [
            denied(f"posix-rename {self.open}/a -> {self.locked}/a", "posix-rename in locked is not allowed"),
            allowed(f"posix-rename {self.open}/b -> {self.open}/b2")])

    def test_mkdir_rmdir(self):
        os.makedirs(f"{self.locked}/old")
        self.batch([f"-mkdir {self.locked}/d", f"mkdir {self.open}/d", f"-rmdir {self.locked}/old",
                    f"rmdir {self.open}/d"])
        self.assertEqual(os.listdir(self.locked), ["old"])
        self.assertEqual(os.listdir(self.open), [])
        self.assertEqual(self.rows(), [
            denied(f"mkdir {self.locked}/d", "mkdir in locked is not allowed"), allowed(f"mkdir {self.open}/d"),
            denied(f"rmdir {self.locked}/old", "rmdir in locked is not allowed"), allowed(f"rmdir {self.open}/d")])

    def test_chmod(self):
        for d in (self.locked, self.open):
            os.chmod(self.write(f"{d}/m", b"x"), 0o644)
        self.batch([f"-chmod 600 {self.locked}/m", f"-chmod 777 {self.open}/m", f"chmod 600 {self.open}/m"])
        self.assertEqual(os.stat(f"{self.locked}/m").st_mode & 0o7777, 0o644)
        self.assertEqual(os.stat(f"{self.open}/m").st_mode & 0o7777, 0o600)
        self.assertEqual(self.rows(), [
            denied(f"setstat {self.locked}/m perm=0600", "setstat in locked is not allowed"),
            denied(f"setstat {self.open}/m perm=0777", "no world-writable files"),
            allowed(f"setstat {self.open}/m perm=0600")])

    def test_symlink_in_openssh_order(self):
        self.batch([f"-ln -s {self.open}/t {self.locked}/sl", f"ln -s {self.open}/t {self.open}/sl"])
        self.assertFalse(os.path.lexists(f"{self.locked}/sl"))
        self.assertEqual(os.readlink(f"{self.open}/sl"), f"{self.open}/t")
        # path: what the link points to; target: the link made.
        self.assertEqual(self.rows(), [
            denied(f"symlink {self.open}/t -> {self.locked}/sl", "symlink in locked is not allowed"),
            allowed(f"symlink {self.open}/t -> {self.open}/sl")])

    def test_hardlink(self):
        self.write(f"{self.open}/h", b"h")
        self.batch([f"-ln {self.open}/h {self.locked}/hl", f"ln {self.open}/h {self.open}/hl"])
        self.assertFalse(os.path.exists(f"{self.locked}/hl"))
        self.assertEqual(os.stat(f"{self.open}/hl").st_ino, os.stat(f"{self.open}/h").st_ino)
        self.assertEqual(self.rows(), [
            denied(f"hardlink {self.open}/h -> {self.locked}/hl", "hardlink in locked is not allowed"),
            allowed(f"hardlink {self.open}/h -> {self.open}/hl")])

    def test_listing_and_lookups_are_not_decided(self):
        self.write(f"{self.open}/x", b"x")
        r = self.batch([f"ls -l {self.open}", f"cd {self.open}", "pwd", "df ."])
        self.assertIn(b"x", r.stdout)
        self.assertEqual(self.rows(), [])

    def test_64mib_put_get_byte_exact(self):
        data = os.urandom(64 << 20)
        src = self.write(os.path.join(self.env.d, "big.src"), data)
        back = os.path.join(self.env.d, "big.back")
        self.batch([f"put {src} {self.open}/big", f"get {self.open}/big {back}"])
        want = hashlib.sha256(data).hexdigest()
        self.assertEqual(hashlib.sha256(self.read(f"{self.open}/big")).hexdigest(), want)
        self.assertEqual(hashlib.sha256(self.read(back)).hexdigest(), want)
        os.unlink(src)
        os.unlink(back)
        self.assertEqual(self.rows(), [allowed(f"open {self.open}/big write,create,truncate", bytes_in=64 << 20),
                                       allowed(f"open {self.open}/big read", bytes_out=64 << 20)])

    # -- paramiko: it shows the STATUS message ------------------------------

    def test_paramiko_sees_the_reason_and_the_session_goes_on(self):
        t = sshproto.connect(self.env.bastion.port, "web1", self.env.alice)
        try:
            s = paramiko.SFTPClient.from_transport(t)
            self.write(f"{self.locked}/f", b"locked")
            os.makedirs(f"{self.locked}/sub")
            self.write(f"{self.open}/a", b"a")
            self.write(f"{self.open}/s.txt", b"s")
            failures = []

            def refused(call, *args):
                with self.assertRaises(PermissionError) as cm:
                    call(*args)
                failures.append(cm.exception.strerror)

            refused(s.open, f"{self.locked}/new", "w")
            refused(s.open, f"{self.open}/secret.key", "r")
            refused(s.remove, f"{self.locked}/f")
            refused(s.rename, f"{self.open}/a", f"{self.locked}/a")
            refused(s.posix_rename, f"{self.open}/a", f"{self.locked}/a")
            refused(s.mkdir, f"{self.locked}/d")
            refused(s.rmdir, f"{self.locked}/sub")
            refused(s.chmod, f"{self.locked}/f", 0o600)
            refused(s.symlink, f"{self.open}/a", f"{self.locked}/sl")
            self.assertEqual(failures, [
                "bastion: denied: locked is read-only", "bastion: denied: secret files stay on the host",
                "bastion: denied: remove in locked is not allowed", "bastion: denied: rename in locked is not allowed",
                "bastion: denied: posix-rename in locked is not allowed",
                "bastion: denied: mkdir in locked is not allowed", "bastion: denied: rmdir in locked is not allowed",
                "bastion: denied: setstat in locked is not allowed",
                "bastion: denied: symlink in locked is not allowed"])
            # The same session goes on.
            with s.open(f"{self.open}/w", "w") as f:
                f.write(b"written after refusals")
            s.rename(f"{self.open}/a", f"{self.open}/a2")
            self.assertEqual(sorted(s.listdir(self.open)), ["a2", "s.txt", "w"])
            with s.open(f"{self.open}/w", "r") as f:
                self.assertEqual(f.read(), b"written after refusals")
            s.close()
        finally:
            t.close()
        self.assertEqual(self.read(f"{self.locked}/f"), b"locked")
        self.assertEqual(sorted(os.listdir(self.locked)), ["f", "sub"])
        rows = self.rows()
        self.assertEqual([r[1:3] for r in rows], [
            (f"open {self.locked}/new write,create,truncate", "deny"), (f"open {self.open}/secret.key read", "deny"),
            (f"remove {self.locked}/f", "deny"), (f"rename {self.open}/a -> {self.locked}/a", "deny"),
            (f"posix-rename {self.open}/a -> {self.locked}/a", "deny"), (f"mkdir {self.locked}/d", "deny"),
            (f"rmdir {self.locked}/sub", "deny"), (f"setstat {self.locked}/f perm=0600", "deny"),
            (f"symlink {self.open}/a -> {self.locked}/sl", "deny"),
            (f"open {self.open}/w write,create,truncate", "allow"), (f"rename {self.open}/a -> {self.open}/a2", "allow"),
            (f"open {self.open}/w read", "allow")])
        self.assertEqual(rows[-3][5:], (22, 0))
        self.assertEqual(rows[-1][5:], (0, 22))

    def test_policy_test_reads_sftp_operations(self):
        policy = os.path.join(self.env.d, "policy.lua")
        r = run([BASTIONCTL, "policy", "test", policy, "--kind", "sftp", "--", "open", f"{self.locked}/x", "write"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"decision: deny\nreason:   locked is read-only\n", r.stdout)
        r = run([BASTIONCTL, "policy", "test", policy, "--kind", "sftp", "--", "setstat", "/x", "perm=0777"])
        self.assertIn(b"reason:   no world-writable files\n", r.stdout)
        r = run([BASTIONCTL, "policy", "test", policy, "--kind", "sftp", "--", "delete", "/x"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"not an sftp operation", r.stderr)
        cases = os.path.join(self.env.d, "sftp.cases.lua")
        with open(cases, "w") as f:
            f.write('''cases = {
  { name = "get", kind = "sftp", command = "open /srv/a read", expect = "allow" },
  { name = "put into locked", kind = "sftp", command = "open /srv/locked/a write,create,truncate",
    expect = "deny", reason = "read-only" },
  { name = "paths with spaces", kind = "sftp", op = "rename", path = "/srv/a b", to = "/srv/locked/c d",
    target = "web1", expect = "deny", reason = "rename in locked" },
  { name = "chmod 777", kind = "sftp", op = "setstat", path = "/srv/x", attrs = "perm=0777", expect = "deny" },
  { name = "unknown extended", kind = "sftp", command = "extended evil@example.com", expect = "deny",
    reason = "not supported through the bastion" },
}
''')
        r = run([BASTIONCTL, "policy", "test", policy, "--cases", cases])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    main()
