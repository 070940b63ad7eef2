"""An AWS Signature V4 checker in front of s3rver (which does not check V4
signatures: "unimplemented" in its authentication middleware). Written from
the AWS specification, independently of libcurl: each request's canonical
request is rebuilt, the signature recomputed with the secret, and the body
checked against x-amz-content-sha256; a mismatch answers 403
SignatureDoesNotMatch (or XAmzContentSHA256Mismatch), anything else is
forwarded to s3rver as it came."""
import hashlib
import hmac
import http.client
import http.server
import threading
import urllib.parse


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri_encode(s, keep_slash):
    safe = "-_.~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def expected_signature(method, raw_path, headers, secret):
    """(signature, error): the V4 signature the request should carry."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return None, "not a V4 signature"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    scope = fields["Credential"].split("/", 1)[1]
    date, region, service, _ = scope.split("/")
    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        if required not in signed:
            return None, f"{required} not signed"
    path, _, query = raw_path.partition("?")
    canon_uri = _uri_encode(urllib.parse.unquote(path), keep_slash=True)
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((_uri_encode(urllib.parse.unquote(name), False), _uri_encode(urllib.parse.unquote(value), False)))
    canon_query = "&".join(f"{n}={v}" for n, v in sorted(pairs))
    canon_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    canonical = "\n".join([method, canon_uri, canon_query, canon_headers, ";".join(signed),
                           headers["x-amz-content-sha256"]])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = _sign(("AWS4" + secret).encode(), date)
    k = _sign(_sign(_sign(k, region), service), "aws4_request")
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest(), fields.get("Signature", "")


class SigV4Proxy:
    def __init__(self, upstream_port, secret):
        self.upstream_port = upstream_port
        self.secret = secret
        self.verified = 0
        self.refused = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _refuse(self, code, why):
                proxy.refused.append(f"{self.command} {self.path}: {why}")
                body = f"<Error><Code>{code}</Code><Message>{why}</Message></Error>".encode()
                self.send_response(403)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    want, got = expected_signature(self.command, self.path, headers, proxy.secret)
                except (KeyError, ValueError) as e:
                    return self._refuse("AccessDenied", f"malformed: {e}")
                if want is None:
                    return self._refuse("AccessDenied", got)
                if not hmac.compare_digest(want, got):
                    return self._refuse("SignatureDoesNotMatch", "signature mismatch")
                payload = headers["x-amz-content-sha256"]
                if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
                    return self._refuse("XAmzContentSHA256Mismatch", "body does not match its signed hash")
                proxy.verified += 1
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    c.request(self.command, self.path, body=body if body else None,
                              headers={k: v for k, v in self.headers.items() if k.lower() != "connection"})
                    r = c.getresponse()
                    data = r.read()
                except OSError:  # s3rver stopped (the outage test): the store is down
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(int(r.getheader("Content-Length") or 0)
                                                       if self.command == "HEAD" else len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
