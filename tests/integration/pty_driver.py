"""Drives a real ssh client through a pseudo-terminal, as a person would."""
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time


class PtySession:
    def __init__(self, argv, rows=24, cols=80, env=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ.update(env or {})
            os.execvp(argv[0], argv)
        self.resize(rows, cols, notify=False)
        self.buf = b""

    def resize(self, rows, cols, notify=True):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        if notify:
            os.kill(self.pid, signal.SIGWINCH)

    def send(self, data):
        os.write(self.fd, data)

    def read_until(self, needle, timeout=10.0):
        """Reads until `needle` appears; returns everything read so far."""
        end = time.time() + timeout
        while needle not in self.buf and time.time() < end:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.buf += chunk
        if needle not in self.buf:
            raise AssertionError(f"{needle!r} not seen; got {self.buf[-400:]!r}")
        return self.buf

    def wait(self, timeout=15.0):
        end = time.time() + timeout
        while time.time() < end:
            try:
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    self.buf += os.read(self.fd, 65536)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("ssh did not exit")
