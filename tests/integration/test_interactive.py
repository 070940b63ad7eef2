"""Interactive sessions: a pty shell through the bastion, driven like a person."""
import json
import os

from harness import BastionTest, main, run
from pty_driver import PtySession


class InteractiveTest(BastionTest):
    def open(self, rows=30, cols=100, target="web1"):
        argv = self.env.ssh_base(tty=True) + [f"{target}@127.0.0.1"]
        return PtySession(argv, rows, cols, env={"TERM": "xterm-256color"})

    def latest_recording(self, kind="shell"):
        return self.env.audit("SELECT recording FROM commands WHERE kind=? ORDER BY id DESC LIMIT 1",
                              (kind,))[0][0]

    def test_shell_term_size_resize_exit(self):
        s = self.open()
        s.send(b"PS1='P$((1+1))> '\r")
        s.read_until(b"P2> ")
        s.send(b"echo T=$TERM; stty size; echo M$((6*7))\r")
        out = s.read_until(b"M42\r\n")
        self.assertIn(b"T=xterm-256color\r\n30 100\r\n", out)
        s.resize(40, 120)
        s.send(b"stty size\r")
        s.read_until(b"40 120\r\n")
        s.send(b"exit 5\r")
        self.assertEqual(s.wait(), 5)

        path = self.latest_recording()
        with open(path) as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual((lines[0]["width"], lines[0]["height"]), (100, 30))
        self.assertEqual(lines[0]["env"]["TERM"], "xterm-256color")
        self.assertIn(["r", "120x40"], [[e[1], e[2]] for e in lines[1:]])
        out = "".join(e[2] for e in lines[1:] if e[1] == "o")
        self.assertIn("T=xterm-256color\r\n30 100\r\n", out)
        self.assertIn("40 120\r\n", out)

    def test_ctrl_c_interrupts_remote_command(self):
        s = self.open()
        s.send(b"PS1='P$((1+1))> '\r")
        s.read_until(b"P2> ")
        s.buf = b""
        s.send(b"sleep 30; echo not-$((0+1))\r")
        s.read_until(b"sleep 30")
        import time
        time.sleep(0.5)
        s.send(b"\x03")
        s.read_until(b"P2> ", timeout=5)
        self.assertNotIn(b"not-1", s.buf)
        s.send(b"\x04")  # Ctrl-D on an empty line ends the shell
        self.assertEqual(s.wait(), 130)  # bash exits with the interrupted command's status

    def test_no_pty_shell_with_stdin(self):
        r = self.env.ssh("web1", None, input=b"echo from-stdin; tty || true\n")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"from-stdin\nnot a tty\n")

    def test_exec_with_pty(self):
        argv = self.env.ssh_base(tty=True) + ["web1@127.0.0.1", "tty; exit 4"]
        s = PtySession(argv)
        s.read_until(b"/dev/pts/")
        self.assertEqual(s.wait(), 4)


if __name__ == "__main__":
    main()
