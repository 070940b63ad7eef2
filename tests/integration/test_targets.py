"""Onward connections: key+certificate credentials, strict host keys, input recording."""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time

from harness import BastionTest, Env, Target, main, run, wait_port


class TargetTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        k = env.keys
        # A second target that accepts only certificates from its own CA.
        target_ca = k.keygen("target_ca")
        cert_key = k.keygen("target_cert_key")
        k.cert(cert_key, target_ca, identity="bastion", principals=env.user, validity="-5m:+1h")
        cls.cert_target = Target(os.path.join(env.d, "certtarget"), trusted_ca_pub=target_ca + ".pub")
        with open(os.path.join(k.d, "known_hosts"), "a") as f:
            f.write(cls.cert_target.known_hosts_line)
        # A known_hosts that names a different key for the real target.
        other = k.keygen("impostor_host_key")
        with open(other + ".pub") as f:
            line = f"[127.0.0.1]:{env.target.port} {f.read().strip()}\n"
        with open(os.path.join(k.d, "wrong_known_hosts"), "w") as f:
            f.write(line)
        with open(os.path.join(k.d, "empty_known_hosts"), "w") as f:
            f.write("")
        common = f'user = "{env.user}", allow = {{ "ops" }}'
        targets = env.default_targets() + f"""
  certhost = {{ type = "ssh", host = "127.0.0.1", port = {cls.cert_target.port}, {common},
               identity = "keys/target_cert_key", certificate = "keys/target_cert_key-cert.pub",
               known_hosts = "keys/known_hosts" }},
  nocert = {{ type = "ssh", host = "127.0.0.1", port = {cls.cert_target.port}, {common},
             identity = "keys/target_key", known_hosts = "keys/known_hosts" }},
  changed = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, {common},
              identity = "keys/target_key", known_hosts = "keys/wrong_known_hosts" }},
  unknown = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, {common},
              identity = "keys/target_key", known_hosts = "keys/empty_known_hosts" }},"""
        env.start_bastion(targets=targets, extra="record_input = true")

    @classmethod
    def tearDownClass(cls):
        cls.cert_target.stop()
        super().tearDownClass()

    def test_key_plus_certificate_credential(self):
        r = self.env.ssh("certhost", "echo via-cert")
        self.assertEqual((r.returncode, r.stdout), (0, b"via-cert\n"), r.stderr)

    def test_target_refuses_bastion_credential(self):
        r = self.env.ssh("nocert", "echo no")
        self.assertEqual(r.returncode, 255)
        self.assertEqual(r.stderr, b"bastion: target nocert (127.0.0.1:%d): the target refused the "
                         b"bastion's credential\n" % self.cert_target.port)

    def test_changed_host_key_refused(self):
        r = self.env.ssh("changed", "touch /tmp/bastion-changed-hostkey")
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"host key has CHANGED; refusing to connect", r.stderr)
        self.assertFalse(os.path.exists("/tmp/bastion-changed-hostkey"))

    def test_unknown_host_key_refused(self):
        r = self.env.ssh("unknown", "true")
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"host key not in known_hosts; refusing to connect", r.stderr)

    def test_input_recorded_when_configured(self):
        r = self.env.ssh("web1", "cat >/dev/null; echo done", input=b"typed-input\n")
        self.assertEqual(r.stdout, b"done\n")
        path = self.env.audit("SELECT recording FROM commands WHERE text LIKE 'cat >/dev/null%'")[0][0]
        with open(path) as f:
            events = [json.loads(l) for l in f][1:]
        self.assertIn(["i", "typed-input\n"], [[e[1], e[2]] for e in events])


class UpstreamCipherTest(BastionTest):
    """The bastion is the client on the onward leg, so its cipher order wins:
    AES-GCM first (AES-NI), the other ciphers still accepted when a target
    does not offer it. bastiond logs what each onward connection took."""

    def ciphers_logged(self):
        return [(l.get("cipher_in"), l.get("cipher_out")) for l in self.env.bastion.log_lines()
                if l.get("msg") == "target connected" and "cipher_in" in l]

    def restrict_target(self, line):
        t = self.env.target
        with open(t.config) as f:
            text = "".join(l for l in f if not l.startswith("Ciphers "))
        with open(t.config, "w") as f:
            f.write(text + line)
        def restarts():
            with open(t.log) as f:
                return f.read().count("Server listening on")
        n = restarts()
        t.proc.send_signal(signal.SIGHUP)  # sshd re-executes itself with the new config
        end = time.time() + 10
        while restarts() == n and time.time() < end:
            time.sleep(0.02)
        self.assertGreater(restarts(), n, "sshd did not restart")
        wait_port(t.port)

    def test_aes_gcm_first(self):
        before = len(self.ciphers_logged())
        r = self.env.ssh("web1", "echo hi")
        self.assertEqual((r.returncode, r.stdout), (0, b"hi\n"))
        self.assertEqual(self.ciphers_logged()[before:], [("aes128-gcm@openssh.com", "aes128-gcm@openssh.com")])

    def test_fallbacks_when_the_target_offers_no_gcm(self):
        try:
            for only in ("chacha20-poly1305@openssh.com", "aes256-ctr"):
                self.restrict_target(f"Ciphers {only}\n")
                before = len(self.ciphers_logged())
                r = self.env.ssh("web1", "echo hi")
                self.assertEqual((r.returncode, r.stdout), (0, b"hi\n"), r.stderr)
                self.assertEqual(self.ciphers_logged()[before:], [(only, only)])
        finally:
            self.restrict_target("")


class NoDelayTest(BastionTest):
    """Both legs' sockets have Nagle's algorithm off: a request waiting for its
    reply (channel open, exec) otherwise waits out the peer's delayed ACK
    (about 40 ms each on Linux), which was half of connect + exec. Read off
    bastiond's own descriptors (pidfd_getfd) while a command runs."""

    def bastion_sockets(self):
        pid = self.env.bastion.proc.pid
        pidfd = os.pidfd_open(pid)
        libc = ctypes.CDLL(None, use_errno=True)
        found = {}
        try:
            for name in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                        continue
                except OSError:
                    continue
                fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
                if fd < 0:
                    continue
                sock = socket.socket(fileno=fd)
                try:
                    if sock.family != socket.AF_INET or sock.type != socket.SOCK_STREAM:
                        continue
                    try:
                        here, there = sock.getsockname()[1], sock.getpeername()[1]
                    except OSError:
                        continue  # the listener
                    nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
                    if here == self.env.bastion.port:
                        found.setdefault("client", []).append(nodelay)
                    elif there == self.env.target.port:
                        found.setdefault("target", []).append(nodelay)
                finally:
                    sock.close()
        finally:
            os.close(pidfd)
        return found

    def test_both_legs_have_nagle_off(self):
        p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", "echo started; exec sleep 30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"started\n")
            self.assertEqual(self.bastion_sockets(), {"client": [True], "target": [True]})
        finally:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
