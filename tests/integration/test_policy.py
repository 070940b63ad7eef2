"""Lua policy through real clients: allow, deny (nothing reaches the target),
review, masking (client and recording), on_session, policy errors, reload."""
import hashlib
import json
import os
import re
import subprocess
import time

from harness import BastionTest, Env, main, run, stop_process

POLICY = r'''
local commands = import("commands")
function on_session(s)
  if s.target.name == "web2" and s.identity == "bob" then
    return deny("bob may not use web2")
  end
  return nil
end

function on_command(c)
  if c.text == "boom" then error("kaboom") end
  for _, part in ipairs(c.parts) do
    local prog = commands.program(part.argv)
    if prog == "rm" and c.target.labels.env == "prod" then
      return deny("rm is not allowed on production")
    end
    if prog == "sudo" then
      return review{ reason = "sudo needs a second person", approvers = { "oncall" }, timeout = 2 }
    end
  end
  if c.text:find("secret", 1, true) then
    return allow{ mask = { patterns = { [[AKIA[0-9A-Z]{16}]], [[password=\S+]] }, replacement = "[MASKED]" } }
  end
  return allow()
end
'''

COMMANDS_MODULE = r'''
local M = {}
function M.program(argv)
  local w = argv[1]
  return w and (w:gsub("^.*/", "")) or nil
end
return M
'''


class PolicyTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        cls.policy = os.path.join(env.d, "policy.lua")
        with open(cls.policy, "w") as f:
            f.write(POLICY)
        with open(os.path.join(env.d, "commands.lua"), "w") as f:
            f.write(COMMANDS_MODULE)
        common = (f'host = "127.0.0.1", port = {env.target.port}, user = "{env.user}", '
                  'identity = "keys/target_key", known_hosts = "keys/known_hosts"')
        targets = f"""
  web1 = {{ type = "ssh", {common}, allow = {{ "ops" }}, labels = {{ env = "prod" }} }},
  web2 = {{ type = "ssh", {common}, allow = {{ "ops" }} }},"""
        env.start_bastion(targets=targets, extra='policy = "policy.lua"')
        cls.bob = env.keys.cert(env.keys.keygen("bob"), env.ca, "bob", "ops")

    def marker_path(self, name):
        return os.path.join(self.env.d, name)

    def test_allowed(self):
        r = self.env.ssh("web1", "echo fine")
        self.assertEqual((r.returncode, r.stdout), (0, b"fine\n"))

    def test_denied_nothing_reaches_target(self):
        marker = self.marker_path("deny-marker")
        r = self.env.ssh("web1", f"touch {marker}; rm -rf {self.env.d}/nothing")
        self.assertEqual(r.returncode, 126)
        self.assertEqual(r.stderr, b"bastion: denied: rm is not allowed on production\n")
        self.assertEqual(r.stdout, b"")
        self.assertFalse(os.path.exists(marker))
        row = self.env.audit("SELECT decision, reason, policy_hook, policy_source, policy_hash, recording "
                             "FROM commands WHERE text LIKE 'touch %deny-marker%'")
        self.assertEqual(len(row), 1)
        decision, reason, hook, source, digest, recording = row[0]
        self.assertEqual((decision, reason, hook), ("deny", "rm is not allowed on production", "on_command"))
        self.assertTrue(source.endswith("policy.lua:15"), source)
        with open(self.policy, "rb") as f:
            self.assertEqual(digest, hashlib.sha256(f.read()).hexdigest())
        with open(recording) as f:
            events = [json.loads(l) for l in f][1:]
        self.assertIn(["m", "decision: deny (rm is not allowed on production)"], [[e[1], e[2]] for e in events])
        self.assertIn("bastion: denied: rm is not allowed on production\r\n",
                      "".join(e[2] for e in events if e[1] == "o"))

    def test_target_without_prod_label_allows_rm(self):
        marker = self.marker_path("rm-ok")
        open(marker, "w").close()
        r = self.env.ssh("web2", f"rm {marker}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(marker))

    def test_review_waits_then_times_out_without_an_approver(self):
        r = self.env.ssh("web1", "sudo id")
        self.assertEqual(r.returncode, 126)
        err = r.stderr.decode()
        self.assertIn("waits for approval by oncall (sudo needs a second person)", err)
        self.assertRegex(err, r"bastion: request #\d+ timed out waiting for approval; nothing was run\n$")
        self.assertEqual(self.env.audit("SELECT decision FROM commands WHERE text='sudo id'"), [("review",)])
        self.assertEqual(self.env.audit("SELECT state FROM approval_requests WHERE command_text='sudo id'"),
                         [("expired",)])

    def test_masking_in_output_and_recording(self):
        secret_line = "echo secret AKIAABCDEFGHIJKLMNOP password=hunter2; printf 'AKIAABCDEFGH'; printf 'IJKLMNOP tail\\n'"
        r = self.env.ssh("web1", secret_line)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"secret [MASKED] [MASKED]\n[MASKED] tail\n")
        path = self.env.audit("SELECT recording FROM commands WHERE text = ?", (secret_line,))[0][0]
        with open(path) as f:
            text = f.read()
        output = "".join(json.loads(l)[2] for l in text.splitlines()[1:] if json.loads(l)[1] == "o")
        self.assertEqual(output, "secret [MASKED] [MASKED]\r\n[MASKED] tail\r\n")
        # The header's command field keeps what was typed; output never shows the secret.
        self.assertNotIn("hunter2", output)
        self.assertEqual(self.env.audit("SELECT decision FROM commands WHERE text = ?", (secret_line,)), [("mask",)])

    def test_session_denied_by_on_session(self):
        r = self.env.ssh("web2", "echo hi", key=self.bob)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, b"bastion: session denied: bob may not use web2\n")
        self.assertEqual(self.env.ssh("web1", "echo hi", key=self.bob).stdout, b"hi\n")

    def test_policy_error_denies_with_ref(self):
        r = self.env.ssh("web1", "boom")
        self.assertEqual(r.returncode, 126)
        m = re.fullmatch(rb"bastion: denied: policy error \(ref ([0-9a-f]{8})\)\n", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        ref = m.group(1).decode()
        errors = [l for l in self.env.bastion.log_lines() if l.get("msg") == "policy error" and l.get("ref") == ref]
        self.assertEqual(len(errors), 1)
        self.assertIn("policy.lua:11: kaboom", errors[0]["error"])


SESSION_OPTIONS_POLICY = r'''
function on_session(s)
  bastion.log("session for", s.identity, "on", s.target.name)
  if s.target.name == "quick" then
    return allow{ idle_timeout = 2 }
  end
  return allow{ record_input = true }
end
function on_command(c) return allow() end
'''


class SessionOptionsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "opts.lua"), "w") as f:
            f.write(SESSION_OPTIONS_POLICY)
        # The config says no idle timeout and no input recording; the policy overrides both.
        common = (f'host = "127.0.0.1", port = {env.target.port}, user = "{env.user}", '
                  'identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = { "ops" }')
        env.start_bastion(extra='policy = "opts.lua"', limits="login_grace_time = 5, idle_timeout = 0",
                          targets=f"  web1 = {{ type = \"ssh\", {common} }},\n  quick = {{ type = \"ssh\", {common} }},")

    def test_on_session_options_apply(self):
        r = self.env.ssh("quick", "sleep 20", timeout=30)
        self.assertEqual(r.returncode, 255)
        self.assertEqual(r.stderr, b"bastion: idle timeout; session closed\n")
        r = self.env.ssh("web1", "cat >/dev/null; echo read", input=b"typed-by-user\n")
        self.assertEqual((r.returncode, r.stdout), (0, b"read\n"), r.stderr)
        path = self.env.audit("SELECT recording FROM commands WHERE text LIKE 'cat >/dev/null%'")[0][0]
        with open(path) as f:
            events = [json.loads(l) for l in f][1:]
        self.assertIn(["i", "typed-by-user\n"], [[e[1], e[2]] for e in events])

    def test_bastion_log_reaches_the_log(self):
        self.env.ssh("web1", "true")
        logs = [l for l in self.env.bastion.log_lines() if l.get("msg") == "policy log"]
        self.assertTrue(logs)
        self.assertEqual(logs[-1]["message"], "session for alice on web1")
        self.assertTrue(logs[-1]["at"].endswith("opts.lua:3"), logs[-1]["at"])
        self.assertEqual(self.env.ssh("web1", "sleep 3; echo not-idle", timeout=30).stdout, b"not-idle\n")


class PolicyReloadTest(BastionTest):
    def test_reload_on_file_change_applies_to_open_session(self):
        env = self.env
        policy = os.path.join(env.d, "live.lua")
        with open(policy, "w") as f:
            f.write('function on_command(c) return allow() end\n')
        env.start_bastion(extra='policy = "live.lua"')
        sock = os.path.join(env.d, "cm.sock")
        master = subprocess.Popen(env.ssh_base(extra=["-M", "-S", sock, "-N"]) + ["web1@127.0.0.1"])
        try:
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.05)
            via = lambda cmd: run(env.ssh_base(extra=["-S", sock]) + ["web1@127.0.0.1", cmd])
            self.assertEqual(via("echo one").stdout, b"one\n")

            # A broken policy is refused; the old one keeps serving.
            with open(policy, "w") as f:
                f.write('function on_command(c)\n  return deny("x"\nend\n')
            self.wait_log("reload refused; keeping the running config")
            refused = [l for l in env.bastion.log_lines() if l.get("msg") == "reload refused; keeping the running config"]
            self.assertIn("live.lua:3:", refused[-1]["error"])
            self.assertEqual(via("echo two").stdout, b"two\n")

            # A good new policy applies to the same (multiplexed) session's next command.
            with open(policy, "w") as f:
                f.write('function on_command(c) return deny("frozen for the release") end\n')
            self.wait_log("config reloaded")
            r = via("echo three")
            self.assertEqual(r.returncode, 126)
            self.assertEqual(r.stderr, b"bastion: denied: frozen for the release\n")
            sessions = env.audit("SELECT count(DISTINCT session_id) FROM commands WHERE text LIKE 'echo %'")
            self.assertEqual(sessions, [(1,)])
        finally:
            stop_process(master)

    def wait_log(self, msg, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if any(l.get("msg") == msg for l in self.env.bastion.log_lines()):
                return
            time.sleep(0.1)
        self.fail(f"log never said {msg!r}")


if __name__ == "__main__":
    main()
