"""Recordings that play right everywhere, and `bastionctl recording play`
with controls that never talk back to the auditor's terminal."""
import json
import os
import re
import select
import subprocess
import time

from harness import BastionTest, main, run, BASTIONCTL
from pty_driver import PtySession


def asciinema_cat(path):
    # asciinema cat wants a terminal (script(1) gives one) and puts it in raw
    # mode, so what it writes arrives untouched.
    return run(["script", "-qec", f"asciinema cat {path}", "/dev/null"], stdin=subprocess.DEVNULL).stdout


def write_cast(path, events, header=None):
    with open(path, "w") as f:
        f.write(json.dumps(header or {"version": 2, "width": 80, "height": 24}) + "\n")
        for e in events:
            f.write(json.dumps(e) + "\n")
    return path


class ExecRecordingTest(BastionTest):
    def recording_of(self, text):
        return self.env.audit("SELECT recording FROM commands WHERE text = ?", (text,))[0][0]

    def test_exec_output_plays_without_staircase(self):
        cmd = 'printf "a\\nb\\n"'
        r = self.env.ssh("web1", cmd)
        self.assertEqual(r.stdout, b"a\nb\n")
        path = self.recording_of(cmd)
        with open(path) as f:
            header = json.loads(f.readline())
        self.assertEqual(header["bastion_newlines"], "crlf")
        # Every line starts at column 0 in asciinema's own player.
        self.assertEqual(asciinema_cat(path), b"a\r\nb\r\n")
        shown = run([BASTIONCTL, "recording", "cat", path])
        self.assertEqual((shown.returncode, shown.stdout), (0, b"a\r\nb\r\n"))
        raw = run([BASTIONCTL, "recording", "cat", "--raw", path])
        self.assertEqual((raw.returncode, raw.stdout, raw.stderr), (0, b"a\nb\n", b""))

    def test_raw_bytes_are_exact_with_cr_lf_and_invalid_utf8(self):
        cmd = "printf 'x\\r\\ny\\n\\xff\\xc3\\xa9z\\n'"
        r = self.env.ssh("web1", cmd)
        self.assertEqual(r.stdout, b"x\r\ny\n\xff\xc3\xa9z\n")
        path = self.recording_of(cmd)
        with open(path) as f:
            codes = [json.loads(l)[1] for l in f.readlines()[1:]]
        self.assertIn("b", codes)  # the invalid byte made an exact-bytes event
        self.assertEqual(run([BASTIONCTL, "recording", "cat", "--raw", path]).stdout, r.stdout)
        self.assertEqual(run([BASTIONCTL, "recording", "cat", path]).stdout, b"x\r\r\ny\r\n\xff\xc3\xa9z\r\n")
        self.assertEqual(asciinema_cat(path), "x\r\r\ny\r\n\ufffd\u00e9z\r\n".encode())

    def test_pty_session_recording_is_untranslated(self):
        cmd = 'printf "p\\nq\\n"'
        r = run(self.env.ssh_base(tty=True) + ["web1@127.0.0.1", cmd], stdin=subprocess.DEVNULL)
        self.assertEqual(r.stdout, b"p\r\nq\r\n")  # the target's pty made the CR LF
        path = self.recording_of(cmd)
        with open(path) as f:
            header = json.loads(f.readline())
        self.assertNotIn("bastion_newlines", header)
        self.assertEqual(asciinema_cat(path), b"p\r\nq\r\n")
        self.assertEqual(run([BASTIONCTL, "recording", "cat", "--raw", path]).stdout, b"p\r\nq\r\n")

    def test_raw_refuses_a_terminal_and_a_contradicting_file(self):
        path = write_cast(os.path.join(self.env.d, "bad.cast"), [[0.1, "o", "a\r\nb\n"]],
                          {"version": 2, "width": 80, "height": 24, "bastion_newlines": "crlf"})
        r = run([BASTIONCTL, "recording", "cat", "--raw", path])
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertIn(b"output byte 4: a bare LF", r.stderr)
        s = PtySession([BASTIONCTL, "recording", "cat", "--raw", path])
        s.read_until(b"redirect it to a file or a pipe")
        self.assertEqual(s.wait(), 2)
        r = run([BASTIONCTL, "recording", "play", "--raw", path])
        self.assertEqual((r.returncode, r.stderr), (2, b"bastionctl: recording play: unknown option --raw\n"))


QUERIES = [b"\x1b[6n", b"\x1b]11;?\x07", b"\x1b[c", b"\x1b[>c", b"\x05", b"\x1bP$qm\x1b\\", b"\x1b[14t"]


class PlayControlsTest(BastionTest):
    def play(self, events, *opts, header=None):
        path = write_cast(os.path.join(self.env.d, f"play{time.time_ns()}.cast"), events, header)
        # stty -g before and after: the terminal mode is given back.
        script = f'stty -g; "$0" recording play "$@"; echo "exit=$?"; stty -g'
        return PtySession(["sh", "-c", script, BASTIONCTL, *opts, path], env={"TERM": "xterm"})

    def idle(self, s, seconds):
        """Output that arrives within `seconds` (none expected)."""
        before = len(s.buf)
        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([s.fd], [], [], 0.05)
            if r:
                s.buf += os.read(s.fd, 65536)
        return s.buf[before:]

    def read_new(self, s, needle, before, timeout=5.0):
        """Output after offset `before`, once it holds `needle`."""
        end = time.time() + timeout
        while needle not in s.buf[before:] and time.time() < end:
            r, _, _ = select.select([s.fd], [], [], 0.05)
            if r:
                s.buf += os.read(s.fd, 65536)
        self.assertIn(needle, s.buf[before:])
        return s.buf[before:]

    def finish(self, s, code=0):
        self.assertEqual(s.wait(), 0)
        lines = s.buf.split(b"\r\n")
        modes = [l for l in lines if re.fullmatch(rb"[0-9a-f:]+", l)]
        self.assertEqual(len(modes), 2, s.buf[-300:])
        self.assertEqual(modes[0], modes[1])  # termios restored
        self.assertIn(f"exit={code}".encode(), s.buf)

    @staticmethod
    def ticks(n, step, start=0.0):
        return [[start + i * step, "o", f"line-{i}\r\n"] for i in range(n)]

    def test_q_quits_at_once_and_keys_are_not_echoed(self):
        s = self.play(self.ticks(100, 0.5))
        s.read_until(b"line-1\r")
        s.send(b"xyz")  # not controls: ignored, and never echoed
        t = time.time()
        s.send(b"q")
        self.finish(s)
        self.assertLess(time.time() - t, 3)
        self.assertNotIn(b"xyz", s.buf)
        self.assertNotIn(b"line-20", s.buf)

    def test_space_pauses_and_resumes_and_dot_steps_one_event(self):
        s = self.play(self.ticks(40, 0.2))
        s.read_until(b"line-2\r")
        s.send(b" ")
        time.sleep(0.3)  # let an event already on its way arrive
        self.idle(s, 0.1)
        last = max(int(n) for n in re.findall(rb"line-(\d+)", s.buf))
        self.assertEqual(self.idle(s, 1.5), b"")  # paused: 7 events were due
        s.send(b".")
        step = s.read_until(f"line-{last + 1}\r".encode())
        self.assertEqual(self.idle(s, 0.6), b"")  # exactly one event, still paused
        self.assertNotIn(f"line-{last + 2}".encode(), step)
        s.send(b" ")
        s.read_until(f"line-{last + 3}\r".encode(), timeout=5)
        s.send(b"q")
        self.finish(s)
        self.assertNotIn(b" ", s.buf.replace(b"exit=0", b""))  # the typed space was not echoed

    def test_n_jumps_to_the_next_marker_and_p_back(self):
        events = [[0.0, "m", "exec: first"]] + self.ticks(30, 1.0, 0.1) + \
                 [[40.0, "m", "exec: second"], [40.1, "o", "second-output\r\n"]] + self.ticks(30, 1.0, 41)
        s = self.play(events, "--markers")
        s.read_until(b"line-0\r")
        t = time.time()
        s.send(b"n")
        s.read_until(b"[marker] exec: second")
        self.assertLess(time.time() - t, 2)  # not the ~60 s (idle limit 2 s) of playing there
        self.assertIn(b"line-29\r", s.buf)  # what lay between was shown at once, in order
        s.read_until(b"second-output")
        before = len(s.buf)
        s.send(b"p")
        back = self.read_new(s, b"[marker] exec: first", before)
        self.assertTrue(back.startswith(b"\x1b[0m\x1b[H\x1b[2J"), back[:40])  # redrawn from the start
        s.send(b"q")
        self.finish(s)

    def test_terminal_queries_are_never_played(self):
        body = "".join(f"text{i}" + q.decode("latin-1") for i, q in enumerate(QUERIES)) + "end\r\n"
        events = [[0.1, "o", body[:9]], [0.2, "o", body[9:]]]  # a query cut between two events
        s = self.play(events, "--speed", "10")
        s.read_until(b"end\r")
        self.finish(s)
        for q in QUERIES:
            self.assertNotIn(q, s.buf)
        self.assertIn(b"text0text1text2text3text4text5text6end", s.buf)
        path = write_cast(os.path.join(self.env.d, "q.cast"), events)
        self.assertEqual(run([BASTIONCTL, "recording", "cat", path]).stdout,
                         b"text0text1text2text3text4text5text6end\r\n")

    def test_sigterm_restores_the_terminal(self):
        s = self.play(self.ticks(100, 0.5))
        s.read_until(b"line-1\r")
        s.send(b"abc")
        self.idle(s, 0.3)
        with open(f"/proc/{s.pid}/task/{s.pid}/children") as f:
            child = int(f.read().split()[0])
        os.kill(child, 15)
        self.finish(s, code=143)
        self.assertNotIn(b"abc", s.buf)

    def test_without_a_terminal_it_plays_straight_through(self):
        path = write_cast(os.path.join(self.env.d, "straight.cast"), self.ticks(5, 0.1))
        r = run([BASTIONCTL, "recording", "play", "--idle-limit", "0.05", path], stdin=subprocess.DEVNULL)
        self.assertEqual((r.returncode, r.stdout), (0, b"".join(f"line-{i}\r\n".encode() for i in range(5))))
        r = run([BASTIONCTL, "recording", "play", "--idle-limit", "-1", path])
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    main()
