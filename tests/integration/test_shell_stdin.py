"""A shell without a pty reading commands from stdin (`cmd | ssh web1 bash`,
`ssh -T web1 < script`): each unit is decided (kind shell_line) before it
reaches the target's shell; a refused one stops the script (exit 126).
Real OpenSSH ssh -> bastiond -> real sshd; side-effect files show what ran."""
import hashlib
import os
import shutil
import subprocess
import time

from harness import BASTIONCTL, BastionTest, Env, main, run

POLICY = r'''
function on_command(c)
  for _, p in ipairs(c.parts) do
    if p.program == "rm" then return deny("rm is not allowed here") end
    if p.opaque then return deny("cannot tell what runs: " .. p.opaque) end
    if p.reads_script and not c.lines_decided then
      return deny("a shell reading a script is allowed only when its lines are decided")
    end
  end
  if c.text:find("^echo held") then return review{ reason = "held for a test", approvers = { "oncall" }, timeout = 30 } end
  if c.text:find("show-token", 1, true) then return allow{ mask = { [[token=\S+]] } } end
  return allow()
end
'''

DENIED = b"bastion: denied: rm is not allowed here\n"


class ShellStdinTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.start_bastion(extra='policy = "policy.lua"')

    def setUp(self):
        self.dir = os.path.join(self.env.d, "work", self._testMethodName)
        os.makedirs(self.dir)
        self.victim = os.path.join(self.dir, "D")
        os.makedirs(self.victim)

    def path(self, name):
        return os.path.join(self.dir, name)

    def session_rows(self, text):
        """kind, text, decision, exit_status of the session that has a row `text`, in order."""
        sid = self.env.audit("SELECT session_id FROM commands WHERE text = ? ORDER BY id DESC LIMIT 1", (text,))
        self.assertTrue(sid, f"no audit row {text!r}")
        return self.env.audit("SELECT kind, text, decision, exit_status FROM commands WHERE session_id = ? AND kind != 'session' "
                              "ORDER BY id", (sid[0][0],))

    def test_piped_into_bash_is_decided(self):
        line = f"rm -rf {self.victim}"
        r = self.env.ssh("web1", "bash", input=(line + "\n").encode())
        self.assertEqual((r.returncode, r.stdout, r.stderr), (126, b"", DENIED))
        self.assertTrue(os.path.isdir(self.victim))
        self.assertEqual(self.session_rows(line), [("exec", "bash", "allow", 126), ("shell_line", line, "deny", 126)])

    def test_script_stops_at_the_refused_unit(self):
        doc = f"cat > {self.path('doc')} <<EOF\nhello from a here-doc\nsecond line\nEOF"
        loop = f"for i in 1 2 3\ndo\n  touch {self.path('loop')}$i\ndone"
        units = [f"touch {self.path('before')}", "echo one", doc, loop, f"rm -rf {self.victim}",
                 f"touch {self.path('after')}", "echo two"]
        r = self.env.ssh("web1", None, input=("\n".join(units) + "\n").encode())
        self.assertEqual((r.returncode, r.stdout, r.stderr), (126, b"one\n", DENIED))
        self.assertTrue(os.path.exists(self.path("before")))
        with open(self.path("doc")) as f:
            self.assertEqual(f.read(), "hello from a here-doc\nsecond line\n")
        for i in (1, 2, 3):
            self.assertTrue(os.path.exists(self.path(f"loop{i}")))
        self.assertTrue(os.path.isdir(self.victim))
        self.assertFalse(os.path.exists(self.path("after")))
        rows = self.session_rows(units[0])
        self.assertEqual(rows[0][:3], ("shell", "", "allow"))
        self.assertEqual([row[:3] for row in rows[1:]],
                         [("shell_line", u, "allow") for u in units[:4]] + [("shell_line", units[4], "deny")])
        details = self.env.audit("SELECT details FROM commands WHERE text IN (?, ?) ORDER BY id", (units[0], loop))
        self.assertEqual(details, [('{"source":"script"}',), ('{"continued":true,"source":"script"}',)])

    def test_two_lines_exact_output(self):
        r = self.env.ssh("web1", None, input=b"echo a\necho b\n")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"a\nb\n", b""))
        self.assertEqual(self.session_rows("echo a")[1:],
                         [("shell_line", "echo a", "allow", None), ("shell_line", "echo b", "allow", 0)])

    def test_bash_s_form(self):
        line = f"rm -rf {self.victim}"
        r = self.env.ssh("web1", "bash -s", input=f"echo s-form\n{line}\necho never\n".encode())
        self.assertEqual((r.returncode, r.stdout, r.stderr), (126, b"s-form\n", DENIED))
        self.assertTrue(os.path.isdir(self.victim))
        self.assertEqual([row[:3] for row in self.session_rows(line)],
                         [("exec", "bash -s", "allow"), ("shell_line", "echo s-form", "allow"),
                          ("shell_line", line, "deny")])

    def test_tricks_are_not_brokered_and_the_exec_decision_applies(self):
        stdin = f"rm -rf {self.victim}\n".encode()
        r = self.env.ssh("web1", 'bash -c "$(cat)"', input=stdin)
        self.assertEqual((r.returncode, r.stdout), (126, b""))
        self.assertTrue(r.stderr.startswith(b"bastion: denied: cannot tell what runs: "), r.stderr)
        self.assertEqual(self.session_rows('bash -c "$(cat)"'), [("exec", 'bash -c "$(cat)"', "deny", 126)])
        r = self.env.ssh("web1", "cat | sh", input=stdin)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (126, b"", b"bastion: denied: a shell reading a script is allowed only when its lines "
                                    b"are decided\n"))
        self.assertEqual(self.session_rows("cat | sh"), [("exec", "cat | sh", "deny", 126)])
        self.assertTrue(os.path.isdir(self.victim))

    def test_data_into_cat_is_not_line_decided(self):
        data = b"".join(b"data line %08d rm -rf /\n" % i for i in range(20 * 1024 * 1024 // 28))
        dest = self.path("f")
        r = self.env.ssh("web1", f"cat > {dest}", input=data, timeout=120)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        with open(dest, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        self.assertEqual(self.session_rows(f"cat > {dest}"), [("exec", f"cat > {dest}", "allow", 0)])

    def test_a_held_line_keeps_the_rest_waiting_until_approved(self):
        after = self.path("after")
        script = self.path("script")
        with open(script, "w") as f:
            f.write(f"echo before\necho held-line\ntouch {after}\n")
        with open(script, "rb") as stdin:
            p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1"], stdin=stdin,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.time() + 10
        rows = []
        while not rows and time.time() < end:
            rows = self.env.audit("SELECT id FROM approval_requests WHERE command_text = 'echo held-line' "
                                  "AND state = 'pending'")
            time.sleep(0.05)
        self.assertTrue(rows, "no pending request")
        # Held: the line after it is not decided, so it cannot have run.
        self.assertEqual(self.env.audit(f"SELECT count(*) FROM commands WHERE text = 'touch {after}'"), [(0,)])
        self.assertFalse(os.path.exists(after))
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "approvals", "--db", db, "approve", str(rows[0][0])])
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out), (0, b"before\nheld-line\n"), err)
        self.assertIn(f"bastion: request #{rows[0][0]} waits for approval by oncall (held for a test)".encode(), err)
        self.assertTrue(os.path.exists(after))
        self.assertEqual([row[:3] for row in self.session_rows("echo before")[1:]],
                         [("shell_line", "echo before", "allow"), ("shell_line", "echo held-line", "review"),
                          ("shell_line", "echo held-line", "allow"), ("shell_line", f"touch {after}", "allow")])

    def test_a_line_over_64_kib_stops_the_script(self):
        r = self.env.ssh("web1", None, input=b"echo a\n" + b"x" * 70000 + b"\necho b\n")
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (126, b"a\n", b"bastion: line too long for the bastion (64 KiB); the rest of the input "
                                        b"was not run\n"))
        self.assertEqual([row[:3] for row in self.session_rows("echo a")[1:]],
                         [("shell_line", "echo a", "allow"), ("shell_line", "", "deny")])

    def test_masks_stay_until_the_channel_ends(self):
        # The next line is decided (and its row ended) as soon as the target
        # took this one, long before this one's output comes.
        units = ["sleep 0.5; echo token=abc123 # show-token", "echo after", "echo token=def456"]
        r = self.env.ssh("web1", None, input=("\n".join(units) + "\n").encode())
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"****\nafter\n****\n", b""))
        self.assertEqual([row[:3] for row in self.session_rows(units[0])[1:]],
                         [("shell_line", units[0], "mask"), ("shell_line", units[1], "allow"),
                          ("shell_line", units[2], "allow")])

    def test_audit_search_finds_typed_lines(self):
        r = self.env.ssh("web1", None, input=b"echo grep-me-shell-line\n")
        self.assertEqual((r.returncode, r.stdout), (0, b"grep-me-shell-line\n"))
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "audit", "commands", "--db", db, "--grep", "grep-me-shell-line"])
        self.assertEqual(r.returncode, 0, r.stderr)
        fields = r.stdout.decode().splitlines()[1].split("\t")  # after the header
        self.assertEqual([fields[i] for i in (4, 5, 9, 11)], ["shell_line", "allow", "0", "echo grep-me-shell-line"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(os.path.join(cls.env.d, "work"), ignore_errors=True)
        super().tearDownClass()


class ShippedProdPolicyTest(BastionTest):
    """The issue's case under the shipped default.lua on an env=prod target."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        cls.policy = env.start_shipped_policy("prod")
        cls.victim = os.path.join(env.d, "D")
        os.mkdir(cls.victim)

    def rows(self, text):
        sid = self.env.audit("SELECT session_id FROM commands WHERE text = ? ORDER BY id DESC LIMIT 1", (text,))
        self.assertTrue(sid, f"no audit row {text!r}")
        return self.env.audit("SELECT kind, text, decision, reason FROM commands WHERE session_id = ? "
                              "AND kind != 'session' ORDER BY id", (sid[0][0],))

    def test_rm_piped_into_bash_is_denied_and_the_rest_of_the_script_is_not_run(self):
        line = f"rm -rf {self.victim}"
        r = self.env.ssh("web1", "bash", input=f"uptime\n{line}\nuptime\n".encode())
        self.assertEqual(r.returncode, 126)
        rows = self.rows(line)
        self.assertEqual([row[:3] for row in rows],
                         [("exec", "bash", "allow"), ("shell_line", "uptime", "allow"), ("shell_line", line, "deny")])
        self.assertEqual(r.stderr, b"bastion: denied: " + rows[2][3].encode() + b"\n")
        self.assertEqual(r.stdout.count(b"load average"), 1)
        self.assertTrue(os.path.isdir(self.victim))

    def test_a_pipe_into_a_shell_is_still_denied(self):
        r = self.env.ssh("web1", "cat | sh", input=f"rm -rf {self.victim}\n".encode())
        self.assertEqual((r.returncode, r.stdout), (126, b""))
        self.assertEqual([row[:3] for row in self.rows("cat | sh")], [("exec", "cat | sh", "deny")])
        self.assertTrue(os.path.isdir(self.victim))

    def test_a_quoted_here_document_body_is_data(self):
        unit = f"cat <<'EOF'\nhello world; rm -rf {self.victim}\nEOF"
        r = self.env.ssh("web1", None, input=(unit + "\n").encode())
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, f"hello world; rm -rf {self.victim}\n".encode(), b""))
        self.assertEqual(self.rows(unit), [("shell", "", "allow", ""), ("shell_line", unit, "allow", "")])
        self.assertTrue(os.path.isdir(self.victim))

    def test_a_substitution_in_a_here_document_is_decided(self):
        unit = f"cat <<EOF\nhello\n$(rm -rf {self.victim})\nEOF"
        r = self.env.ssh("web1", None, input=(unit + "\n").encode())
        reason = ("`rm` is not on the production allow-list; ask for access with "
                  "`ssh access@bastion request web1 --for 30m --reason ...`")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (126, b"", f"bastion: denied: {reason}\n".encode()))
        self.assertEqual(self.rows(unit), [("shell", "", "allow", ""), ("shell_line", unit, "deny", reason)])
        self.assertTrue(os.path.isdir(self.victim))

    def test_a_nul_byte_in_a_denied_line_is_shown_escaped(self):
        r = self.env.ssh("web1", None, input=b"ls\x00rm -rf /\necho never\n")
        self.assertEqual((r.returncode, r.stdout), (126, b""))
        self.assertEqual(r.stderr, b"bastion: denied: `ls\\x00rm` is not on the production allow-list; ask for access "
                                   b"with `ssh access@bastion request web1 --for 30m --reason ...`\n")


if __name__ == "__main__":
    main()
