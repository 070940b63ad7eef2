"""Tunnels would bypass recording: every kind of forwarding is refused, and
nothing gives a shell on the bastion host itself."""
import socket
import subprocess
import time

from harness import BastionTest, main, run, free_port


class ForwardingTest(BastionTest):
    def test_local_forward_refused(self):
        lport = free_port()
        p = subprocess.Popen(self.env.ssh_base(extra=["-N", "-L", f"{lport}:127.0.0.1:{self.env.target.port}"])
                             + ["web1@127.0.0.1"], stderr=subprocess.PIPE)
        try:
            time.sleep(1.0)
            with socket.create_connection(("127.0.0.1", lport), timeout=5) as s:
                s.settimeout(5)
                data = s.recv(100)  # the target's sshd banner would arrive if forwarded
            self.assertEqual(data, b"")
        finally:
            p.kill()  # an idle -N client can miss SIGTERM (its own poll race)
            _, err = p.communicate(timeout=10)
        rows = self.env.audit("SELECT kind, text, decision, reason FROM commands WHERE kind='forward' "
                              "AND text LIKE 'direct-tcpip%'")
        self.assertEqual(rows[-1], ("forward", f"direct-tcpip to 127.0.0.1:{self.env.target.port}",
                                    "deny", "port forwarding is not allowed"))

    def test_remote_forward_refused(self):
        r = run(self.env.ssh_base(extra=["-o", "ExitOnForwardFailure=yes", "-R", f"{free_port()}:127.0.0.1:22"])
                + ["web1@127.0.0.1", "echo should-not-run"], timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"remote port forwarding failed", r.stderr)
        self.assertNotIn(b"should-not-run", r.stdout)

    def test_dynamic_forward_refused(self):
        lport = free_port()
        p = subprocess.Popen(self.env.ssh_base(extra=["-N", "-D", str(lport)]) + ["web1@127.0.0.1"],
                             stderr=subprocess.PIPE)
        try:
            time.sleep(1.0)
            with socket.create_connection(("127.0.0.1", lport), timeout=5) as s:
                s.settimeout(5)
                # SOCKS5: no auth, then CONNECT 127.0.0.1:target
                s.sendall(b"\x05\x01\x00")
                s.recv(2)
                port = self.env.target.port
                s.sendall(b"\x05\x01\x00\x01\x7f\x00\x00\x01" + port.to_bytes(2, "big"))
                reply = s.recv(10)
            self.assertTrue(reply == b"" or reply[1] != 0, reply)
        finally:
            p.kill()  # an idle -N client can miss SIGTERM (its own poll race)
            p.communicate(timeout=10)

    def test_agent_forwarding_refused_with_message(self):
        agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True).stdout
        env = {}
        for part in agent.split(";"):
            part = part.strip()
            if "=" in part and part.split("=")[0] in ("SSH_AUTH_SOCK", "SSH_AGENT_PID"):
                k, v = part.split("=", 1)
                env[k] = v
        import os
        try:
            r = self.env.ssh("web1", "echo ${SSH_AUTH_SOCK:-no-agent}", extra=["-A"],
                             env=dict(os.environ, **env))
            self.assertEqual(r.stdout, b"no-agent\n")
            self.assertIn(b"bastion: agent forwarding is not available through the bastion", r.stderr)
        finally:
            if "SSH_AGENT_PID" in env:
                os.kill(int(env["SSH_AGENT_PID"]), 15)


if __name__ == "__main__":
    main()
