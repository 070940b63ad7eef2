"""The `rm` table (issue 14): 35 spellings of `rm -rf D`, and a few more,
sent as `ssh web1@bastion '<row>'` to an env=prod target under the SHIPPED
policies/default.lua (loaded as scripts/demo.sh loads it). None may delete
D/flag; each audit row must say deny (review for sudo), with the reason
`bastionctl policy test` gives for the same line. Run with -v to print the
table.

The wrapper table: each wrapper (with and without options) in front of
`rm -rf D`, through `bastionctl policy test` with a probe policy that shows
every part's unwrapped program, args, sudo user and via."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import BastionTest, Env, main, policy_decision

POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../policies")
VERBOSE = "-v" in sys.argv or "--verbose" in sys.argv

# %D is the directory that must survive. Rows 1-35 are the table
# (design note §4); the rest are the extra rows.
RM_ROWS = [
    "rm -rf %D",
    "/bin/rm -rf %D",
    "\\rm -rf %D",
    "'r'm -rf %D",
    '"rm" -rf %D',
    'r""m -rf %D',
    "$'rm' -rf %D",
    "$'\\x72\\x6d' -rf %D",
    "{rm,-rf,%D}",
    "/bin/r? -rf %D",
    "/bin/r[m] -rf %D",
    "rm${IFS}-rf${IFS}%D",
    "X=rm; $X -rf %D",
    "$(echo rm) -rf %D",
    "`echo rm` -rf %D",
    ": $(( $(rm -rf %D) ))",
    "env -i rm -rf %D",
    "env A=1 rm -rf %D",
    "nice -n5 rm -rf %D",
    "ionice -c3 rm -rf %D",
    "timeout 5 rm -rf %D",
    "setsid rm -rf %D",
    "stdbuf -o0 rm -rf %D",
    "nohup rm -rf %D",
    "time -p rm -rf %D",
    "command -p rm -rf %D",
    "exec rm -rf %D",
    "echo %D | xargs rm -rf",
    "bash -c 'rm -rf %D'",
    'sh -c "rm -rf %D"',
    "eval 'rm -rf %D'",
    "echo 'rm -rf %D' | sh",
    "python3 -c 'import shutil;shutil.rmtree(\"%D\")'",
    "perl -e 'system \"rm -rf %D\"'",
    "find %D -delete",
    # Extra rows.
    "busybox rm -rf %D",
    "x='a[$(rm -rf %D)]'; echo $((x))",
    "find %D -exec rm -rf {} +",
    "watch rm -rf %D",
    "ls; rm -rf %D",
    "history -s 'rm -rf %D'; !!",
    "rm $'\\x2drf' %D",
    "flock /tmp/rm-table.lock rm -rf %D",
    "chroot / rm -rf %D",
    "script -qc 'rm -rf %D' /dev/null",
    "ls $(rm -rf %D)",
    "cat <(rm -rf %D)",
    "find %D -name flag -fprint /dev/stdout -delete",
    "awk 'BEGIN{system(\"rm -rf %D\")}'",
    "sed -n '1e rm -rf %D' /etc/hostname",
    "less -f /etc/hostname",
    "journalctl -n1",
]
SUDO_ROWS = ["sudo rm -rf %D"]


class RmTableTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        try:
            cls.policy = env.start_shipped_policy("prod")
            cls.dir = os.path.join(env.d, "D")
            os.mkdir(cls.dir)
            cls.flag = os.path.join(cls.dir, "flag")
            with open(cls.flag, "w") as f:
                f.write("still here\n")
            cls.table = []
        except BaseException:
            env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if VERBOSE and cls.table:
            width = max(len(r[0]) for r in cls.table)
            sys.stderr.write("\n%-*s  %-8s %s\n" % (width, "row", "decision", "reason"))
            for row, decision, reason in cls.table:
                sys.stderr.write("%-*s  %-8s %s\n" % (width, row, decision, reason))
        super().tearDownClass()

    def line(self, row):
        return row.replace("%D", self.dir)

    def audit_row(self, text):
        return self.env.audit("SELECT decision, reason, kind FROM commands WHERE text = ?", (text,))

    def test_rows_denied_and_flag_survives(self):
        self.assertEqual(len(RM_ROWS), 52)
        for row in RM_ROWS:
            line = self.line(row)
            with self.subTest(row=row):
                r = self.env.ssh("web1", line, timeout=30)
                self.assertTrue(os.path.exists(self.flag), f"{row} deleted the flag")
                rows = self.audit_row(line)
                self.assertEqual(len(rows), 1, rows)
                decision, reason, kind = rows[0]
                self.table.append((row, decision, reason))
                self.assertEqual((kind, decision), ("exec", "deny"))
                self.assertEqual(r.returncode, 126, r.stderr)
                self.assertEqual(r.stderr.decode(), f"bastion: denied: {reason}\n")
                self.assertEqual(r.stdout, b"")
                # The same decision as a policy test of the same line.
                self.assertEqual(policy_decision(self.policy, line), (decision, reason))

    def test_sudo_row_is_held_for_review_and_runs_nothing(self):
        for row in SUDO_ROWS:
            line = self.line(row)
            cmd = self.env.ssh_base() + ["web1@127.0.0.1", line]
            client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                rows = self.env.audit_eventually("SELECT decision, reason FROM commands WHERE text = ?",
                                                 [("review", "rm as root needs approval")], (line,))
                self.assertEqual(rows, [("review", "rm as root needs approval")])
                self.table.append((row, rows[0][0], rows[0][1]))
                self.assertEqual(policy_decision(self.policy, line), ("review", "rm as root needs approval"))
            finally:
                client.terminate()  # the held command is cancelled: nothing ran
                client.communicate(timeout=30)
            self.assertTrue(os.path.exists(self.flag))
            state = self.env.audit_eventually("SELECT state FROM approval_requests WHERE command_text = ?",
                                              [("cancelled",)], (line,))
            self.assertEqual(state, [("cancelled",)])

    def test_opaque_reasons_are_in_the_audit_details(self):
        # An auditor sees why a line could not be resolved, part by part.
        line = self.line("$'rm' -rf %D/other")
        self.env.ssh("web1", line, timeout=30)
        rows = self.env.audit("SELECT details FROM commands WHERE text = ?", (line,))
        self.assertEqual(len(rows), 1, rows)
        details = json.loads(rows[0][0])
        self.assertEqual(details["opaque"][0]["part"], 1)
        self.assertEqual(details["opaque"][0]["argv"], ["rm", "-rf", self.dir + "/other"])
        self.assertTrue(any("ANSI-C" in r or "$'" in r for r in details["opaque"][0]["reasons"]),
                        details)

    def test_allowed_reader_still_runs(self):
        # The allow-list is not a wall: a read-only line runs and shows the flag.
        line = f"cat {self.flag}"
        r = self.env.ssh("web1", line)
        self.assertEqual((r.returncode, r.stdout), (0, b"still here\n"), r.stderr)
        self.assertEqual(self.audit_row(line), [("allow", "", "exec")])
        self.table.append((line.replace(self.dir, "%D"), "allow", ""))


# Probe: every part as "program args [sudo=user] [via=...]", joined by " | ".
PROBE = r'''
function on_command(c)
  local out = {}
  for _, p in ipairs(c.parts) do
    local s = tostring(p.program) .. " " .. table.concat(p.args or {}, " ")
    if p.sudo then s = s .. " sudo=" .. p.sudo.user end
    if p.via then s = s .. " via=" .. p.via end
    if p.opaque then s = s .. " opaque=" .. p.opaque end
    out[#out + 1] = s
  end
  return deny(table.concat(out, " | "))
end
'''

RM = "rm rm -rf D"
# (line, every part as the probe prints it)
WRAPPER_ROWS = [
    ("env rm -rf D", [RM]),
    ("env -i rm -rf D", [RM]),
    ("env -i -u HOME A=1 rm -rf D", [RM]),
    ("nice rm -rf D", [RM]),
    ("nice -n5 rm -rf D", [RM]),
    ("nice -n 5 rm -rf D", [RM]),
    ("ionice rm -rf D", [RM]),
    ("ionice -c3 rm -rf D", [RM]),
    ("timeout 5 rm -rf D", [RM]),
    ("timeout -s KILL -k 1 5 rm -rf D", [RM]),
    ("setsid rm -rf D", [RM]),
    ("setsid -f rm -rf D", [RM]),
    ("stdbuf -o0 rm -rf D", [RM]),
    ("stdbuf -oL -e0 rm -rf D", [RM]),
    ("nohup rm -rf D", [RM]),
    ("time rm -rf D", [RM]),
    ("time -p rm -rf D", [RM]),
    ("command rm -rf D", [RM]),
    ("command -p rm -rf D", [RM]),
    ("exec rm -rf D", [RM]),
    ("exec -a x rm -rf D", [RM]),
    ("xargs rm -rf D", [RM + " via=xargs"]),
    ("xargs -0 -n1 rm -rf D", [RM + " via=xargs"]),
    ("sudo rm -rf D", [RM + " sudo=root"]),
    ("sudo -u bob rm -rf D", [RM + " sudo=bob"]),
    ("sudo -u bob -E -- rm -rf D", [RM + " sudo=bob"]),
    ("doas rm -rf D", [RM + " sudo=root"]),
    ("doas -u bob rm -rf D", [RM + " sudo=bob"]),
    ("bash -c 'rm -rf D'", ["bash bash -c rm -rf D", RM + " via=bash -c"]),
    ("bash -lc 'rm -rf D'", ["bash bash -lc rm -rf D", RM + " via=bash -c"]),
    ("sh -c 'rm -rf D'", ["sh sh -c rm -rf D", RM + " via=sh -c"]),
    ("sh -e -c 'rm -rf D' name", ["sh sh -e -c rm -rf D name", RM + " via=sh -c"]),
    ("eval 'rm -rf D'", ["eval eval rm -rf D", RM + " via=eval"]),
    ("eval rm -rf D", ["eval eval rm -rf D", RM + " via=eval"]),
    ("watch rm -rf D", ["watch watch rm -rf D", RM + " via=watch"]),
    ("watch -n 1 'rm -rf D'", ["watch watch -n 1 rm -rf D", RM + " via=watch"]),
    ("watch -x rm -rf D", [RM]),
    ("flock /tmp/l rm -rf D", [RM]),
    ("flock -n -w 3 /tmp/l rm -rf D", [RM]),
    ("flock /tmp/l -c 'rm -rf D'", ["flock flock /tmp/l -c rm -rf D", RM + " via=flock -c"]),
    ("chroot / rm -rf D", [RM]),
    ("chroot --userspec=bob:bob / rm -rf D", [RM + " sudo=bob"]),
    ("nice -n5 sudo -u bob env -i timeout 5 rm -rf D", [RM + " sudo=bob"]),
    ("nice {rm,-rf,D}", ["nil  opaque=brace expansion in command position"]),
    ("timeout -Z 5 rm -rf D", ["nil  opaque=timeout: unknown option -Z"]),
]


class WrapperTableTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = tempfile.mkdtemp(prefix="bastion-probe-")
        cls.policy = os.path.join(cls.d, "probe.lua")
        with open(cls.policy, "w") as f:
            f.write(PROBE)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.d, ignore_errors=True)

    def test_each_wrapper_unwraps_to_rm(self):
        wrappers_seen = set()
        for line, parts in WRAPPER_ROWS:
            wrappers_seen.add(line.split()[0])
            with self.subTest(line=line):
                self.assertEqual(policy_decision(self.policy, line), ("deny", " | ".join(parts)))
        self.assertEqual(wrappers_seen, {"env", "nice", "ionice", "timeout", "setsid", "stdbuf", "nohup", "time",
                                         "command", "exec", "xargs", "sudo", "doas", "bash", "sh", "eval",
                                         "watch", "flock", "chroot"})


if __name__ == "__main__":
    main()
