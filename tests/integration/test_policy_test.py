"""`bastionctl policy test --config --target` against a real bastiond on the
same configuration (same verdicts), and `bastionctl policy check`."""
import os
import shutil

from harness import BASTIONCTL, BastionTest, Env, main, run

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "policies")


def fields(out):
    """The `key: value` lines of a policy test's output."""
    return dict((k, v.strip()) for k, v in (l.split(":", 1) for l in out.decode().splitlines()
                                            if ":" in l and not l.startswith(" ")))


class PolicyTestConfigTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        for name in ("default.lua", "commands.lua", "postgres.lua"):
            shutil.copy(os.path.join(SHIPPED, name), os.path.join(env.d, name))
        with open(os.path.join(env.d, "keys", "db.password"), "w") as f:
            f.write("unused\n")
        os.chmod(os.path.join(env.d, "keys", "db.password"), 0o600)
        common = (f'host = "127.0.0.1", port = {env.target.port}, user = "{env.user}", '
                  'identity = "keys/target_key", known_hosts = "keys/known_hosts"')
        # As scripts/demo.sh: the shipped default.lua globally, a production
        # host, and a database judged by postgres.lua too.
        targets = f"""
  prod = {{ type = "ssh", {common}, allow = {{ "ops" }}, labels = {{ env = "prod" }} }},
  dev = {{ type = "ssh", {common}, allow = {{ "ops" }}, labels = {{ env = "dev" }} }},
  db = {{ type = "postgres", host = "127.0.0.1", port = 1, dbname = "postgres", user = "postgres",
         password_file = "keys/db.password", sslmode = "disable", allow = {{ "analyst" }}, policy = "postgres.lua",
         credentials = {{ readonly = {{ user = "app_ro", password_file = "keys/db.password" }} }} }},
  db2 = {{ type = "postgres", host = "127.0.0.1", port = 1, dbname = "postgres", user = "postgres",
          password_file = "keys/db.password", sslmode = "disable", allow = {{ "analyst" }}, policy = "postgres.lua" }},"""
        try:
            env.start_bastion(targets=targets, extra='policy = "default.lua"')
        except BaseException:
            env.close()
            raise
        cls.conf = env.bastion.conf

    def ctl_test(self, target, command, *opts):
        return run([BASTIONCTL, "policy", "test", "--config", self.conf, "--target", target, "--identity", "alice",
                    "--principals", "ops", *opts, "--", command])

    def test_rm_rf_root_on_prod_is_denied_as_the_live_bastion_denies_it(self):
        r = self.ctl_test("prod", "rm -rf /")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(fields(r.stdout)["decision"], "deny")
        self.assertTrue(fields(r.stdout)["reason"].startswith("`rm` is not on the production allow-list"),
                        r.stdout)
        # The labels came from the configuration, and the policy's view is printed.
        self.assertIn(b'\n  c.target.labels.env = "prod"\n', r.stdout)
        self.assertIn(b'\n  c.parts[1].argv = { "rm", "-rf", "/" }\n', r.stdout)
        self.assertIn(b'\n  c.programs = { "rm" }\n', r.stdout)

    def test_same_verdicts_as_bastiond_on_the_same_config(self):
        nothing = os.path.join(self.env.d, "nothing-here")
        commands = [("prod", f"rm -rf {nothing}"), ("prod", "ls /tmp"), ("prod", f"ls /tmp; rm -rf {nothing}"),
                    ("prod", "uname -a"), ("prod", "echo $(id)"), ("dev", f"rm -rf {nothing}"),
                    ("dev", "cat /etc/hostname")]
        for target, command in commands:
            with self.subTest(target=target, command=command):
                self.env.ssh(target, command)
                live = self.env.audit("SELECT decision, reason FROM commands c JOIN sessions s ON s.id = c.session_id "
                                      "WHERE c.kind = 'exec' AND c.text = ? AND s.target = ?", (command, target))
                self.assertEqual(len(live), 1, live)
                r = self.ctl_test(target, command)
                got = fields(r.stdout)
                self.assertEqual((got["decision"], got.get("reason", "")), live[0], r.stdout)
                self.assertEqual(r.returncode, 0 if live[0][0] in ("allow", "mask") else 1)
        # Both verdicts occur in the list above: the comparison means something.
        self.assertEqual(self.env.audit("SELECT COUNT(DISTINCT decision) FROM commands WHERE kind = 'exec'"), [(2,)])

    def test_review_exits_3_and_names_its_approvers(self):
        r = self.ctl_test("prod", "sudo systemctl restart nginx")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertEqual(fields(r.stdout)["decision"], "review")
        self.assertEqual(fields(r.stdout)["approvers"], "oncall")

    def test_the_targets_kind_parses_the_command(self):
        r = run([BASTIONCTL, "policy", "test", "--config", self.conf, "--target", "db", "--identity", "ann",
                 "--principals", "analyst", "--", "DROP TABLE people"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(fields(r.stdout)["reason"], "read-only access: drop is not allowed")
        self.assertIn(b'\n  c.kind = "sql"\n', r.stdout)
        self.assertIn(b'\n  c.sql.statement = "drop"\n', r.stdout)
        self.assertIn(b'\n  c.sql.writes = { "people" }\n', r.stdout)
        # on_session ran first and chose the credential, as a session does.
        self.assertIn(b'\n  c.session.credential = "readonly"\n', r.stdout)
        r = run([BASTIONCTL, "policy", "test", "--config", self.conf, "--target", "db", "--kind", "kubectl",
                 "--", "get pods"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, b"bastionctl: policy test: --kind kubectl is not a command of postgres targets "
                                   b"(exec, shell, subsystem, sql)\n")

    def test_a_credential_the_target_does_not_hold_denies_as_in_a_session(self):
        # postgres.lua gives analysts the credential "readonly"; db2 holds none of that name.
        r = run([BASTIONCTL, "policy", "test", "--config", self.conf, "--target", "db2", "--principals", "analyst",
                 "--", "SELECT 1"])
        self.assertEqual((r.returncode, r.stdout.decode()), (1,
                         "certificate: not given (c.certificate fields are zero)\n"
                         "access:   allowed (a principal is in the target's allow list)\n"
                         "session:  deny (the command is never decided)\n"
                         "decision: deny\n"
                         "reason:   target 'db2' holds no credential 'readonly'\n"
                         "from:     bastion (credential)\n"))

    def test_principals_the_target_does_not_allow_are_refused_first(self):
        r = run([BASTIONCTL, "policy", "test", "--config", self.conf, "--target", "prod", "--principals", "dba",
                 "--", "ls"])
        self.assertEqual((r.returncode, r.stdout.decode()), (1,
                         "certificate: not given (c.certificate fields are zero)\n"
                         "access:   refused: no principal in the target's allow list\n"
                         "decision: deny\n"
                         "reason:   access to target \"prod\" is not allowed for alice\n"
                         "from:     bastion (access)\n"))

    def test_config_mistakes_are_usage_errors(self):
        r = run([BASTIONCTL, "policy", "test", "--config", self.conf, "--target", "nope", "--", "ls"])
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (2, f"{self.conf}: no target \"nope\" (targets: db, db2, dev, prod)\n"))
        r = run([BASTIONCTL, "policy", "test", "--config", self.conf, "--", "ls"])
        self.assertEqual((r.returncode, r.stderr), (2, b"bastionctl: policy test --config needs --target NAME\n"))
        r = run([BASTIONCTL, "policy", "test", "--config", self.conf, "--target", "prod", "--labels", "env=dev",
                 "--", "ls"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"takes the policies and labels from the configuration", r.stderr)

    def test_the_single_file_form_still_works(self):
        r = run([BASTIONCTL, "policy", "test", os.path.join(self.env.d, "default.lua"), "--principals", "ops",
                 "--labels", "env=prod", "--", "rm", "-rf", "/"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(fields(r.stdout)["decision"], "deny")

    # --- policy check ------------------------------------------------------------

    def write(self, name, text):
        path = os.path.join(self.env.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_names_a_misspelt_hook_a_missing_hook_and_a_bad_mask_method(self):
        typo = self.write("typo.lua", 'function on_comand(c) return deny("x") end\n'
                                      'function on_session(s) return nil end\n')
        none = self.write("none.lua", "local x = 1\n")
        mask = self.write("mask.lua", "function on_command(c)\n"
                                      "  return allow{ mask = { columns = { email = \"last4\" } } }\nend\n")
        r = run([BASTIONCTL, "policy", "check", typo, none, mask])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(),
                         f"{typo}: unknown hook on_comand; did you mean on_command? (hooks: on_session, on_command)\n"
                         f"{none}: defines no hook (on_session or on_command): it never decides anything\n"
                         f"{mask}:2: mask column method \"last4\" is not full, hash or last:N (N 0-999)\n")
        r = run([BASTIONCTL, "policy", "check", os.path.join(self.env.d, "default.lua")])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_check_config_finds_a_review_nobody_can_approve(self):
        r = run([BASTIONCTL, "policy", "check", "--config", self.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.decode().endswith(f"{self.conf}: policies OK\n"), r.stdout)
        self.write("ask.lua", "function on_command(c)\n"
                              "  if c.text == \"reboot\" then return review{ reason = \"reboots need a second person\" } end\n"
                              "  return allow()\nend\n")
        with open(self.conf) as f:
            text = f.read()
        conf = self.write("ask.conf", text.replace('policy = "default.lua"', 'policy = "ask.lua"')
                          .replace('labels = { env = "dev" } }', 'labels = { env = "dev" }, approvers = { "oncall" } }'))
        r = run([BASTIONCTL, "policy", "check", "--config", conf])
        self.assertEqual(r.returncode, 1)
        tail = (" can return review without approvers, and the target has none: nobody can approve it "
                "(name approvers in the review, or give the target approvers = { ... })\n")
        self.assertEqual(r.stderr.decode(), f"{conf}: targets.db: ask.lua:2{tail}{conf}: targets.db2: ask.lua:2{tail}"
                                            f"{conf}: targets.prod: ask.lua:2{tail}")
        # policy test says the same of the command.
        r = run([BASTIONCTL, "policy", "test", "--config", conf, "--target", "prod", "--principals", "ops",
                 "--", "reboot"])
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"\napprovers: none (the target has none either: the bastion refuses it, nobody may approve it)\n",
                      r.stdout)

    def test_a_cases_file_with_a_misspelt_field_is_refused(self):
        cases = self.write("typo.cases.lua", 'cases = {\n  { name = "ls", command = "ls", expect = "allow" },\n'
                                             '  { name = "rm", command = "rm -rf /", labels = { env = "prod" },\n'
                                             '    principals = { "ops" }, expcet = "deny" },\n}\n')
        r = run([BASTIONCTL, "policy", "test", os.path.join(self.env.d, "default.lua"), "--cases", cases])
        self.assertEqual((r.returncode, r.stdout, r.stderr.decode()),
                         (2, b"", f"{cases}: case 2 (rm): unknown field \"expcet\"; did you mean expect?\n"))


if __name__ == "__main__":
    main()
