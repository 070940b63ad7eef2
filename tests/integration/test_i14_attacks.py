"""Attack review of issue 14 (exec lines and stdin shells on an env=prod
target under the SHIPPED policies/default.lua + commands.lua). Each test is
a hole found by the review: a line the allow-list lets through that deletes
or changes files (or restarts services) on production. Real OpenSSH ssh ->
bastiond -> real sshd; D/flag shows whether anything was touched.

Every test here FAILED on 497eee1 (the code the review was run against);
the fixes are in shell_parse.cpp (xargs -I) and policies/commands.lua."""
import os
import shutil

from harness import BastionTest, Env, main, policy_decision, run

POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../policies")
FLAG_TEXT = "still here\n"


class ShippedProdAttackTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        try:
            cls.policy = env.start_shipped_policy("prod")
        except BaseException:
            env.close()
            raise

    def setUp(self):
        self.dir = os.path.join(self.env.d, "work", self._testMethodName, "D")
        os.makedirs(self.dir)
        self.flag = os.path.join(self.dir, "flag")
        with open(self.flag, "w") as f:
            f.write(FLAG_TEXT)

    def flag_intact(self):
        if not os.path.exists(self.flag):
            return False
        with open(self.flag, "rb") as f:
            return f.read() == FLAG_TEXT.encode()

    def exec_decision(self, line):
        """Runs `ssh web1@bastion LINE`; returns (ssh result, audit decision)."""
        r = self.env.ssh("web1", line, timeout=30)
        rows = self.env.audit("SELECT decision FROM commands WHERE kind = 'exec' AND text = ?", (line,))
        self.assertEqual(len(rows), 1, rows)
        return r, rows[0][0]

    def assert_exec_refused(self, line):
        r, decision = self.exec_decision(line)
        self.assertTrue(self.flag_intact(), f"`{line}` changed D/flag")
        self.assertEqual(decision, "deny", r.stderr)
        self.assertEqual(r.returncode, 126, r.stderr)
        self.assertEqual(policy_decision(self.policy, line)[0], "deny")

    # --- xargs -I: the replace string is the program's name -------------
    # `xargs -I uptime nice uptime -rf D` reads "rm" from stdin and runs
    # `nice rm -rf D`: the parser takes `ls` (an initial argument xargs
    # rewrites) for the program. Any wrapper xargs execs works (nice, env,
    # timeout, setsid, stdbuf); -i, -iSTR and --replace=STR too.
    def test_xargs_replace_string_turns_a_reader_into_rm_exec(self):
        self.assert_exec_refused(f"echo rm | xargs -I uptime nice uptime -rf {self.dir}")
        self.assertTrue(os.path.isdir(self.dir))

    def test_xargs_replace_string_variants_are_denied(self):
        for line in (f"echo rm | xargs -Iuptime env uptime -rf {self.dir}",
                     f"echo rm | xargs --replace=uptime timeout 9 uptime -rf {self.dir}",
                     f"echo rm | xargs -iuptime setsid uptime -rf {self.dir}"):
            with self.subTest(line=line):
                self.assertEqual(policy_decision(self.policy, line)[0], "deny")

    def test_xargs_replace_string_turns_a_reader_into_rm_stdin_shell(self):
        line = f"echo rm | xargs -I uptime nice uptime -rf {self.dir}"
        r = self.env.ssh("web1", "bash", input=f"{line}\n".encode(), timeout=30)
        self.assertTrue(os.path.isdir(self.dir), "D was deleted through a stdin shell")
        rows = self.env.audit("SELECT decision FROM commands WHERE kind = 'shell_line' AND text = ?", (line,))
        self.assertEqual(rows, [("deny",)])
        self.assertEqual(r.returncode, 126, r.stderr)

    # --- GNU time -o with its value attached (or in a cluster) ----------
    # commands.lua looks for the word "-o" only; `-oFILE` and `-ao FILE`
    # make /usr/bin/time truncate FILE and write its report there.
    def test_time_output_attached_truncates_a_file(self):
        self.assert_exec_refused(f"/usr/bin/time -o{self.flag} ls")

    def test_time_output_in_a_cluster_is_denied(self):
        line = f"command time -ao {self.flag} ls"
        self.assertEqual(policy_decision(self.policy, line)[0], "deny")

    # --- getopt_long abbreviations of the options arg_checks refuse -----
    # `ss --di=FILE` is --diag=FILE: ss truncates FILE and dumps raw
    # socket data into it.
    def test_ss_diag_abbreviated_truncates_a_file(self):
        self.assert_exec_refused(f"ss --di={self.flag}")

    def test_abbreviated_long_options_are_denied(self):
        for line in ("ss --ki",                                    # --kill: closes sockets
                     f"journalctl --no-pager --cursor-f={self.dir}/cur",  # --cursor-file writes
                     "journalctl --no-pager --rot",                # --rotate
                     "journalctl --no-pager --flu",                # --flush
                     "date --se=2020-01-01",                       # --set
                     "hostname --fi=/etc/passwd"):                 # --file
            with self.subTest(line=line):
                self.assertEqual(policy_decision(self.policy, line)[0], "deny")

    # --- systemctl: an option's value taken for the verb -----------------
    # first_operand() skips words starting with "-" but not their values:
    # in `systemctl -p status --no-pager restart nginx` the verb is restart
    # (-p takes "status"), yet the line passes as `systemctl status`.
    # With `edit`, systemctl runs $SYSTEMD_EDITOR, i.e. any command.
    def test_systemctl_option_value_hides_the_verb(self):
        line = "systemctl -p status --no-pager restart nginx"
        r, decision = self.exec_decision(line)
        self.assertNotEqual(decision, "allow", "restart passed as status without review")
        self.assertNotEqual(policy_decision(self.policy, line)[0], "allow")

    def test_systemctl_edit_behind_an_option_value_is_denied(self):
        for line in ("systemctl -p status --no-pager reboot",
                     f"SYSTEMD_EDITOR='rm -rf {self.dir};' systemctl --user -p status --no-pager edit --force --full x.service"):
            with self.subTest(line=line):
                self.assertEqual(policy_decision(self.policy, line)[0], "deny")

    # --- a brokered shell that does not read `#` as bash does ------------
    # Each stdin line is judged with bash's grammar, where ` #` starts a
    # comment. An interactive zsh (interactivecomments is off by default)
    # and `bash -i +O interactive_comments` take `#` as a word, so
    # `echo x #; rm -rf D` is `echo x` to the bastion and runs rm there.
    def brokered_line_kept_d(self, shell):
        line = f"echo x #; rm -rf {self.dir}"
        r = self.env.ssh("web1", shell, input=f"{line}\n".encode(), timeout=30)
        rows = self.env.audit("SELECT kind, decision FROM commands WHERE text IN (?, ?) ORDER BY id DESC LIMIT 2",
                              (shell, line))
        return os.path.isdir(self.dir), r, rows

    def test_zsh_interactive_takes_hash_as_a_word(self):
        kept, r, rows = self.brokered_line_kept_d("zsh -f -i")
        self.assertTrue(kept, f"D deleted through `zsh -f -i`: {rows} {r.stderr[-300:]!r}")

    def test_bash_without_interactive_comments_takes_hash_as_a_word(self):
        kept, r, rows = self.brokered_line_kept_d("bash -i +O interactive_comments")
        self.assertTrue(kept, f"D deleted through `bash -i +O interactive_comments`: {rows} {r.stderr[-300:]!r}")

    # --- ${NAME:=value} assigns, and the parser does not see it ---------
    # `echo ${PROMPT_COMMAND:='rm -rf D'}` is an allowed `echo` with a
    # dynamic argument, but it sets PROMPT_COMMAND: `ssh web1 'bash -i'`
    # (a brokered shell: each line decided) runs it before the next prompt.
    # ${PS0:='$(rm -rf D)'} does the same through prompt expansion.
    def test_prompt_command_set_by_a_default_expansion_runs_rm(self):
        line = f"echo ${{PROMPT_COMMAND:='rm -rf {self.dir}'}}"
        r = self.env.ssh("web1", "bash -i", input=f"{line}\nuptime\n".encode(), timeout=30)
        self.assertTrue(os.path.isdir(self.dir), f"D deleted by PROMPT_COMMAND: {r.stderr[-300:]!r}")
        # Refused either as a line or with the shell (`bash -i` is not brokered).
        rows = self.env.audit("SELECT decision FROM commands WHERE kind = 'shell_line' AND text = ?", (line,))
        self.assertIn(rows, ([], [("deny",)]))
        self.assertEqual(r.returncode, 126, r.stderr)

    def test_default_expansions_of_shell_variables_are_denied(self):
        for line in (f"echo ${{PS0:='$(rm -rf {self.dir})'}}", "echo ${BASH_ENV:=/tmp/x}", "echo ${PS4=x}",
                     "echo ${LC_ALL:=zh_CN.GBK}"):
            with self.subTest(line=line):
                self.assertEqual(policy_decision(self.policy, line)[0], "deny")

    # --- a locale whose multibyte characters end in a backslash ---------
    # In GBK (BIG5, SJIS, GB18030) "\x81\\" is ONE character: bash does
    # not take that backslash as an escape. The parser does, so
    # `echo \x81\; rm -rf D` is one `echo` to it and two commands to bash
    # once LC_ALL names such a locale: set by a line before (bash -c and a
    # stdin shell read line by line) or sent by the client (SetEnv LC_ALL,
    # forwarded: LC_* is allowed). Seen with a GBK locale built by
    # localedef (LOCPATH); this target has none, so the test checks the
    # decision.
    def test_a_gbk_locale_set_on_one_line_hides_a_command_on_the_next(self):
        line = f"LC_ALL=zh_CN.GBK\necho \x81\\; rm -rf {self.dir}"
        self.assertEqual(policy_decision(self.policy, line)[0], "deny")
        r = self.env.ssh("web1", "bash", input=(line + "\n").encode("latin-1"), timeout=30)
        rows = self.env.audit("SELECT decision FROM commands WHERE kind = 'shell_line' ORDER BY id DESC LIMIT 2")
        self.assertIn(("deny",), rows, r.stderr)

    def test_a_gbk_locale_sent_by_the_client_is_not_forwarded(self):
        cmd = self.env.ssh_base() + ["-o", "SetEnv=LC_ALL=zh_CN.GBK", "web1@127.0.0.1", 'echo "LC=$LC_ALL"']
        r = run(cmd, timeout=30)
        self.assertNotEqual(r.stdout, b"LC=zh_CN.GBK\n", "a legacy multibyte locale reaches the target's bash")

    # --- history expansion with another history character --------------
    # The parser flags `!` only. `histchars=%` is an allowed assignment;
    # then `ls %:1:r:e` (allowed: ls with one argument) expands in bash to
    # the middle of the previous (allowed, quoted) echo argument:
    # `ls .;rm -rf D;#`. Brokered shells with history expansion: `bash -i`
    # and `bash -o history -o histexpand`.
    def history_lines(self):
        return ["histchars=%", f'echo "x.;rm -rf {self.dir};#.y"', "ls %:1:r:e"]

    def test_history_expansion_with_another_histchar_runs_rm_bash_i(self):
        r = self.env.ssh("web1", "bash -i", input=("\n".join(self.history_lines()) + "\n").encode(), timeout=30)
        self.assertTrue(os.path.isdir(self.dir), f"D deleted by history expansion: {r.stderr[-300:]!r}")

    def test_history_expansion_with_another_histchar_runs_rm_histexpand(self):
        r = self.env.ssh("web1", "bash -o history -o histexpand",
                         input=("\n".join(self.history_lines()) + "\n").encode(), timeout=30)
        self.assertTrue(os.path.isdir(self.dir), f"D deleted by history expansion: {r.stderr[-300:]!r}")

    # --- zsh brokered with bash's grammar --------------------------------
    # `ssh web1 zsh` is a brokered shell, but its lines are judged with
    # bash's grammar. In bash "${(e):-\$(rm -rf D)}" is a (bad) expansion
    # whose text is quoted; zsh's (e) flag evaluates the default word: rm.
    def test_zsh_e_flag_runs_a_quoted_substitution(self):
        line = f'echo "${{(e):-\\$(rm -rf {self.dir})}}"'
        r = self.env.ssh("web1", "zsh", input=f"{line}\n".encode(), timeout=30)
        self.assertTrue(os.path.isdir(self.dir), f"D deleted through zsh: {r.stderr[-300:]!r}")
        self.assertEqual(r.returncode, 126, r.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(os.path.join(cls.env.d, "work"), ignore_errors=True)
        super().tearDownClass()


if __name__ == "__main__":
    main()
