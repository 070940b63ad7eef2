"""HTTP targets: a slow, silent or departed client cannot hold a worker
thread or the session thread. request_head_timeout and idle_timeout (short
here) bound a request head and a quiet connection; closing a tunnel while
the bastion waits on a registry's token realm returns promptly."""
import socket
import time

from harness import BastionTest, main, stop_process
from test_http_registry import open_tunnel, read_response
from test_i19_attacks import start_fake_api

POLICY = r'''
function on_command(c)
  if c.kind ~= "http" then return nil end
  return allow()
end
'''


def read_until_closed(s, limit):
    """Everything `s` sends until it closes (True) or `limit` seconds pass (False)."""
    out, end = b"", time.time() + limit
    s.settimeout(0.2)
    while time.time() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        if not b:
            return out, True
        out += b
    return out, False


class HttpLimitsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        start_fake_api(cls, POLICY, "\n          request_head_timeout = 2, idle_timeout = 3,")

    @classmethod
    def tearDownClass(cls):
        cls.up.stop()
        super().tearDownClass()

    def setUp(self):
        _, self.port = open_tunnel(self, self.env.dev, target="api")
        self.first = len(self.up.heads)

    # Slowloris: a head sent a byte at a time never completes; after
    # request_head_timeout it gets a 408 and the connection closes, and the
    # upstream never hears of it.
    def test_a_request_head_must_be_whole_within_request_head_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        started = time.time()
        try:
            s.sendall(b"GET /public HTTP/1.1\r\nHost: x\r\n")
            out, closed = b"", False
            s.settimeout(0.3)
            while time.time() - started < 8 and not closed:
                try:
                    s.sendall(b"X")  # one header-name byte every 0.3 s, never a line end
                    b = s.recv(65536)
                    if not b:
                        closed = True
                    out += b
                except socket.timeout:
                    continue
                except OSError:
                    closed = True
            out2, closed2 = read_until_closed(s, 3) if not closed else (b"", True)
        finally:
            s.close()
        elapsed = time.time() - started
        out += out2
        self.assertTrue(out.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), out)
        self.assertIn(b"the request head was not whole within 2 s (request_head_timeout)", out)
        self.assertTrue(closed or closed2)
        self.assertLess(elapsed, 6)
        self.assertEqual(self.up.heads[self.first:], [])

    # A new connection that never sends a byte is closed, without a response.
    def test_a_silent_connection_is_closed(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            out, closed = read_until_closed(s, 8)
        finally:
            s.close()
        self.assertEqual((out, closed), (b"", True))

    # A kept-alive connection with no next request closes after idle_timeout.
    def test_an_idle_keep_alive_connection_closes_after_idle_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            s.sendall(b"GET /public HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, _ = read_response(s)
            answered = time.time()
            out, closed = read_until_closed(s, 8)
            idle = time.time() - answered
        finally:
            s.close()
        self.assertEqual(status, 200)
        self.assertNotIn("connection", headers)  # kept alive, until idle
        self.assertEqual((out, closed), (b"", True))
        self.assertGreater(idle, 2)
        self.assertLess(idle, 6)

    # A body that stalls is cut after idle_timeout: the upstream's request
    # ends, the row records the failure, the worker is free.
    def test_a_stalled_body_is_cut_after_idle_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            s.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            out, closed = read_until_closed(s, 8)
        finally:
            s.close()
        self.assertTrue(closed)
        self.assertTrue(out.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), out)
        self.assertIn(b'"message":"bastion: request timeout: no body byte for 3 s (idle_timeout)"', out)
        expected = [(408, "the request body stalled")]
        self.assertEqual(self.env.audit_eventually(
            "SELECT exit_status, error FROM commands WHERE text='PUT /upload'", expected), expected)

    # A client that stops reading its response holds the worker (and the
    # upstream's connection) for idle_timeout, not until curl's low-speed
    # limit (120 s) or forever.
    def test_a_response_the_client_does_not_read_is_cut_after_idle_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            end = time.time() + 15
            while time.time() < end and not any(b"/big" in h for h in self.up.heads):
                time.sleep(0.05)
            asked = time.time()
            while time.time() < end and not self.up.aborted:
                time.sleep(0.05)
        finally:
            s.close()
        self.assertEqual(len(self.up.aborted), 1)
        self.assertLess(self.up.aborted[0] - asked, 3 + 6)

    # The session thread joins a closed tunnel's workers: one waiting on a
    # token realm that never answers used to hold it (and the session's end)
    # for curl's 30 s token timeout.
    def test_closing_a_tunnel_during_a_token_fetch_returns_promptly(self):
        p, port = open_tunnel(self, self.env.dev, target="reg")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(b"GET /v2/hang/manifests/latest HTTP/1.1\r\nHost: x\r\n\r\n")
            end = time.time() + 10
            while time.time() < end and not any(b"/token-hang" in h for h in self.up.heads):
                time.sleep(0.05)
            self.assertTrue(any(b"/token-hang" in h for h in self.up.heads))
            session = self.env.audit("SELECT session_id FROM commands WHERE text='GET /v2/hang/manifests/latest'")
            self.assertEqual(len(session), 1)
            closing = time.time()
            stop_process(p)
            ended = self.env.audit_eventually("SELECT count(*) FROM sessions WHERE id=? AND ended_at IS NOT NULL",
                                              [(1,)], args=(session[0][0],), timeout=20)
            took = time.time() - closing
        finally:
            s.close()
        self.assertEqual(ended, [(1,)])
        self.assertLess(took, 3)


if __name__ == "__main__":
    main()
