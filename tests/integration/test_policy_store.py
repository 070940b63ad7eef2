"""The policy store on one instance (SQLite in data_dir, no NOTIFY): a
target's `policy = "store:guard"` runs the active version pushed with
`bastionctl policy push`; a push or rollback applies within seconds through
the periodic version check; each decision's audit row names the version
(policy_source "store:guard@N:LINE"); list, show, history; a push that does
not compile changes nothing; a configuration naming a policy the store does
not have is refused at start and by --check (fail closed)."""
import json
import os
import re
import subprocess
import time
import unittest

from harness import BASTIOND, BASTIONCTL, BastionTest, Env, free_port, run

V1 = '''function on_command(c)
  if c.text == "echo forbidden-one" then return deny("v1 forbids one") end
  return nil
end
'''

# Version 2 imports a module: the store keeps it with the policy.
V2 = '''local words = import("words")
function on_command(c)
  if words.bad[c.text] then
    return deny("v2 forbids " .. c.text)
  end
  return nil
end
'''
WORDS = '''local M = { bad = { ["echo forbidden-two"] = true } }
return M
'''

BROKEN = '''function on_command(c)
  return deny("unclosed"
end
'''


class PolicyStoreTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        try:
            data = os.path.join(env.d, "data")
            os.makedirs(data)
            cls.db = os.path.join(data, "audit.db")
            for name, text in (("v1.lua", V1), ("v2.lua", V2), ("words.lua", WORDS), ("broken.lua", BROKEN)):
                with open(os.path.join(env.d, name), "w") as f:
                    f.write(text)
            # Pushed before bastiond starts: it must find the version at start.
            r = cls.ctl("push", "guard", os.path.join(env.d, "v1.lua"), "--note", "first", "--db", cls.db)
            assert r.returncode == 0, r.stderr
            targets = env.default_targets().replace('labels = { env = "test" } }',
                                                    'labels = { env = "test" }, policy = "store:guard" }')
            env.start_bastion(targets=targets, extra='policy_default = "allow"\n' + env.policy_key()[1])
        except BaseException:
            env.close()
            raise

    @classmethod
    def ctl(cls, *args):
        # Pushes and rollbacks are signed with the admin's key.
        if args[0] in ("push", "rollback"):
            args += ("--key", cls.env.policy_key()[0])
        return run([BASTIONCTL, "policy", *args])

    def ssh_status(self, command):
        r = self.env.ssh("web1", command)
        return r.returncode, r.stderr.decode()

    def wait_for(self, command, want, timeout=8.0):
        """Seconds until COMMAND gives WANT (returncode, stderr)."""
        start = time.monotonic()
        got = None
        while time.monotonic() - start < timeout:
            got = self.ssh_status(command)
            if got == want:
                return time.monotonic() - start
            time.sleep(0.2)
        self.fail(f"{command}: {got!r}, wanted {want!r}")

    def policy_source(self, text):
        rows = self.env.audit("SELECT policy_source, policy_hash FROM commands WHERE text=? ORDER BY id DESC LIMIT 1",
                              (text,))
        return rows[0] if rows else None

    def test_push_list_show_rollback_and_reload_without_notify(self):
        conf = self.env.bastion.conf
        self.assertEqual(self.ssh_status("echo forbidden-one"), (126, "bastion: denied: v1 forbids one\n"))
        self.assertEqual(self.policy_source("echo forbidden-one")[0], "store:guard@1:2")
        self.assertEqual(self.ssh_status("echo forbidden-two")[0], 0)

        # Version 2 (with its module), through --config as an admin would.
        r = self.ctl("push", "guard", os.path.join(self.env.d, "v2.lua"), "--config", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^policy guard: version 2 pushed and active \(sha256 [0-9a-f]{16}, 1 modules, signed by SHA256:[A-Za-z0-9+/]{43}\)\n$")
        # No NOTIFY on SQLite: the once-a-second version check reloads.
        self.assertLess(self.wait_for("echo forbidden-two", (126, "bastion: denied: v2 forbids echo forbidden-two\n")), 5)
        self.assertEqual(self.ssh_status("echo forbidden-one")[0], 0)
        src, digest = self.policy_source("echo forbidden-two")
        self.assertEqual(src, "store:guard@2:4")
        self.assertEqual(digest, self.env.audit("SELECT hash FROM policy_versions WHERE version=2")[0][0])
        reloads = [l for l in self.env.bastion.log_lines() if l.get("msg") == "config reloaded"]
        self.assertEqual(reloads[-1]["trigger"], "policy store")

        # The same text again: unchanged, no version.
        r = self.ctl("push", "guard", os.path.join(self.env.d, "v2.lua"), "--config", conf)
        self.assertEqual((r.returncode, r.stdout.decode()),
                         (0, "policy guard: unchanged (version 2 is active and holds the same text and modules)\n"))

        r = self.ctl("list", "--config", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[0], "NAME\tVERSION\tACTIVE\tSHA256\tPUSHED_BY\tPUSHED_AT\tNOTE")
        # Every name (another test may have pushed its own): guard's rows.
        rows = [l.split("\t") for l in lines[1:] if l.startswith("guard\t")]
        self.assertEqual([(x[0], x[1], x[2], x[4], x[6]) for x in rows],
                         [("guard", "1", "", self.env.user, "first"), ("guard", "2", "active", self.env.user, "")])
        self.assertEqual(len(rows[0][3]), 12)

        r = self.ctl("show", "guard", "--config", conf)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, V2))
        r = self.ctl("show", "guard", "1", "--db", self.db)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, V1))
        r = self.ctl("show", "guard", "--module", "words", "--db", self.db)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, WORDS))
        r = self.ctl("show", "guard", "7", "--db", self.db)
        self.assertEqual((r.returncode, r.stderr.decode()), (1, "bastionctl: policy show: guard has no version 7\n"))

        # A push that does not compile: refused with the Lua error, nothing stored.
        broken = os.path.join(self.env.d, "broken.lua")
        r = self.ctl("push", "guard", broken, "--config", conf)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(),
                         f"{broken}:3: ')' expected (to close '(' at line 2) near 'end'\n"
                         f"bastionctl: policy push: guard: {broken} was not pushed (nothing changed)\n")
        self.assertEqual(self.env.audit("SELECT max(version) FROM policy_versions"), [(2,)])

        # Rollback: version 1 again, a new history entry.
        r = self.ctl("rollback", "guard", "1", "--config", conf)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "policy guard: version 1 is active again\n"))
        self.assertLess(self.wait_for("echo forbidden-one", (126, "bastion: denied: v1 forbids one\n")), 5)
        self.assertEqual(self.ssh_status("echo forbidden-two")[0], 0)
        self.assertEqual(self.policy_source("echo forbidden-one")[0], "store:guard@1:2")
        r = self.ctl("rollback", "guard", "1", "--config", conf)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "policy guard: version 1 is already active\n"))
        r = self.ctl("rollback", "guard", "5", "--config", conf)
        self.assertEqual((r.returncode, r.stderr.decode()), (1, "bastionctl: policy rollback: policy guard has no version 5\n"))
        r = self.ctl("list", "guard", "--history", "--config", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        hist = [l.split("\t")[1:] for l in r.stdout.decode().splitlines()[1:]]
        self.assertEqual(hist, [["guard", "1", "push", self.env.user], ["guard", "2", "push", self.env.user],
                                ["guard", "1", "rollback", self.env.user]])

        # policy test / check --config judge by the stored version that runs.
        r = run([BASTIONCTL, "policy", "test", "--config", conf, "--target", "web1", "--principals", "ops", "--",
                 "echo", "forbidden-one"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("decision: deny\nreason:   v1 forbids one\nfrom:     store:guard@1:2 (on_command)\n",
                      r.stdout.decode())
        r = run([BASTIONCTL, "policy", "check", "--config", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^store:guard@1: OK \(sha256 [0-9a-f]{16}, 0 modules\)\n")

        # What runs, as status shows it; the chain holds the admin's writes as notes.
        r = run([BASTIONCTL, "status", "--config", conf])
        self.assertIn("stored policies: store:guard@1\n", r.stdout.decode())
        r = run([BASTIONCTL, "verify", "--config", conf])
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())

    def test_a_cases_file_beside_the_policy_must_pass(self):
        # policies/ convention: NAME.cases.lua beside NAME.lua.
        d = os.path.join(self.env.d, "cased")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "cased.lua"), "w") as f:
            f.write(V1)
        cases = os.path.join(d, "cased.cases.lua")
        with open(cases, "w") as f:
            f.write('cases = { { name = "one", principals = { "ops" }, command = "echo forbidden-one", expect = "allow" } }\n')
        r = self.ctl("push", "cased", os.path.join(d, "cased.lua"), "--db", self.db)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode().splitlines()[-1],
                         f"bastionctl: policy push: cased: {cases}: 1 failed; {d}/cased.lua was not pushed (nothing changed)")
        self.assertIn("FAIL one: expected allow", r.stderr.decode())
        self.assertEqual(self.env.audit("SELECT count(*) FROM policy_versions WHERE name='cased'"), [(0,)])
        with open(cases, "w") as f:
            f.write('cases = { { name = "one", principals = { "ops" }, command = "echo forbidden-one", expect = "deny" } }\n')
        r = self.ctl("push", "cased", os.path.join(d, "cased.lua"), "--db", self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(),
                         r"^policy cased: version 1 pushed and active \(sha256 [0-9a-f]{16}, 0 modules, cased.cases.lua passed, "
                         r"signed by SHA256:[A-Za-z0-9+/]{43}\)\n$")

    def test_names_and_usage(self):
        r = self.ctl("push", "../x", os.path.join(self.env.d, "v1.lua"), "--db", self.db)
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, "bastionctl: policy push: ../x: a policy name is 1 to 32 letters, digits, '_', '.' or '-', "
                             "starting with a letter or digit\n"))
        r = self.ctl("list", "nothing", "--db", self.db)
        self.assertEqual((r.returncode, r.stderr.decode()), (1, "bastionctl: policy list: no policy named nothing\n"))
        r = self.ctl("push", "guard", "--db", self.db)
        self.assertEqual(r.returncode, 2)
        r = self.ctl("list", "--db", os.path.join(self.env.d, "nowhere.db"))
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(os.path.join(self.env.d, "nowhere.db")))  # reading creates nothing

    def test_pushes_are_signed_by_a_key_the_configuration_trusts(self):
        conf = self.env.bastion.conf
        v1 = os.path.join(self.env.d, "v1.lua")
        key, line = self.env.policy_key()
        fp = re.search(r'"(SHA256:[^"]+)"', line).group(1)
        r = run([BASTIONCTL, "policy", "push", "guard", v1, "--db", self.db])
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, "bastionctl: policy push: --key KEY is needed: stored policies are signed "
                             "(bastionctl policy keygen makes a key)\n"))
        nowhere = os.path.join(self.env.d, "no_such_key")
        r = run([BASTIONCTL, "policy", "rollback", "guard", "1", "--key", nowhere, "--db", self.db])
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, f"bastionctl: policy rollback: {nowhere}: no such key (bastionctl policy keygen {nowhere} "
                             "makes one)\n"))
        self.assertFalse(os.path.exists(nowhere))  # never made on the fly
        r = run([BASTIONCTL, "policy", "keygen", key])
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, f"bastionctl: policy keygen: {key} exists (a key is never overwritten)\n"))
        # A key the configuration does not trust: refused before anything is written.
        other, other_line = self.env.policy_key("other_policy_key")
        self.assertEqual(oct(os.stat(other).st_mode & 0o777), "0o600")
        other_fp = re.search(r'"(SHA256:[^"]+)"', other_line).group(1)
        before = self.env.audit("SELECT count(*) FROM policy_activations")
        r = run([BASTIONCTL, "policy", "push", "guard", os.path.join(self.env.d, "v2.lua"), "--key", other,
                 "--config", conf])
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, f"bastionctl: policy push: {other} ({other_fp}) is not in {conf}'s policy_signers: "
                             "instances would refuse what it signs\n"))
        self.assertEqual(self.env.audit("SELECT count(*) FROM policy_activations"), before)
        # verify vouches for every stored row and names the signer.
        r = run([BASTIONCTL, "verify", "--config", conf])
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        self.assertRegex(r.stdout.decode(), r"\npolicy store: OK \(\d+ versions and activations, signed by "
                         + re.escape(fp) + r", each named in policy_signers\)\n")
        r = run([BASTIONCTL, "verify", "--db", self.db, "--key",
                 os.path.join(self.env.d, "data", "audit_signing_key.pub"), "--json"])
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        pol = json.loads(r.stdout)["policies"]
        self.assertEqual((pol["ok"], pol["signers"], pol["signers_checked"]), (True, [fp], False))

    def test_a_missing_stored_policy_is_refused_at_start_and_by_check(self):
        # The same data_dir (the same store), its own port and no control
        # socket, so that only the missing policy can stop it.
        conf = os.path.join(self.env.d, "missing.conf")
        with open(self.env.bastion.conf) as f:
            text = f.read()
        text = re.sub(r'^listen = .*$', f'listen = "127.0.0.1:{free_port()}"', text, flags=re.M)
        text = text.replace('"store:guard"', '"store:absent"') + 'control_socket = ""\n'
        with open(conf, "w") as f:
            f.write(text)
        line = next(i for i, l in enumerate(text.splitlines(), 1) if "store:absent" in l)
        want = (f'{conf}:{line}: targets.web1.policy: store:absent: policy store: no policy named "absent" '
                '(push it with bastionctl policy push)')
        r = run([BASTIOND, "--config", conf, "--check"])
        self.assertEqual((r.returncode, r.stderr.decode()), (1, f"bastiond: {want}\n"))
        r = run([BASTIONCTL, "config", "check", conf])
        self.assertEqual((r.returncode, r.stderr.decode()), (1, want + "\n"))
        r = run([BASTIOND, "--config", self.env.bastion.conf, "--check"])
        self.assertEqual(r.returncode, 0, r.stderr)
        # The daemon itself does not start.
        p = subprocess.run([BASTIOND, "--config", conf], capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode()
        self.assertEqual(p.returncode, 1, out)
        logged = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        self.assertIn({"msg": "cannot start", "error": want}, [{"msg": l.get("msg"), "error": l.get("error")} for l in logged])
        # It stopped before touching the store's chain (no anchor of its own).
        self.assertNotIn("audit chain head", [l.get("msg") for l in logged])

if __name__ == "__main__":
    unittest.main(verbosity=2)
