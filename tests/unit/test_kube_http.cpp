// The API proxy's HTTP/1.1 head parser: strict, bounded, fail closed.
#include <catch2/catch.hpp>

#include "targets/kubectl/kube_http.h"

using namespace bastion;

namespace {
std::string req_error(const std::string& head) {
  HttpHead h;
  std::string e;
  return parse_http_request(head, h, e) ? "ok" : e;
}
}  // namespace

TEST_CASE("a request head", "[kube_http]") {
  HttpHead h;
  std::string e;
  REQUIRE(parse_http_request("GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n"
                             "Accept: application/json \r\n\r\n", h, e));
  CHECK(h.a == "GET");
  CHECK(h.b == "/api/v1/pods?watch=true");
  CHECK(h.get("authorization") == "Bearer abc");
  CHECK(h.get("Accept") == "application/json");
  CHECK_FALSE(h.chunked);
  CHECK_FALSE(h.content_length);
  h.set("Host", "upstream:6443");
  CHECK(h.serialize() == "GET /api/v1/pods?watch=true HTTP/1.1\r\nAuthorization: Bearer abc\r\n"
                         "Accept: application/json\r\nHost: upstream:6443\r\n\r\n");
}

TEST_CASE("odd request heads are refused", "[kube_http]") {
  CHECK(req_error("GET /x HTTP/1.1\r\nHost: x\r\n\r\n") == "ok");
  CHECK(req_error("GET /x HTTP/1.1\nHost: x\r\n\r\n") == "a bare CR, LF or NUL in the header");
  CHECK(req_error("GET /x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n") == "a folded header line");
  CHECK(req_error("GET /x HTTP/1.1\r\nHost x\r\n\r\n") == "a header line without a colon");
  CHECK(req_error("GET /x HTTP/1.1\r\nBad Name: x\r\nHost: x\r\n\r\n") == "a malformed header name");
  CHECK(req_error("GET /x HTTP/1.0\r\nHost: x\r\n\r\n") == "only HTTP/1.1 is spoken here");
  CHECK(req_error("GET http://evil/x HTTP/1.1\r\nHost: x\r\n\r\n") == "the request target must be a path");
  CHECK(req_error("GET /x HTTP/1.1\r\n\r\n") == "exactly one Host header is required");
  CHECK(req_error("GET /x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n") == "exactly one Host header is required");
  CHECK(req_error("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        "both Transfer-Encoding and Content-Length");
  CHECK(req_error("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n") ==
        "a repeated framing header");
  CHECK(req_error("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n") == "a malformed Content-Length");
  CHECK(req_error("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") ==
        "a transfer coding other than chunked");
  CHECK(req_error("GET /x HTTP/1.1\r\nHost: x\r\nX: a\x01\r\n\r\n") == "a control character in a header value");
  CHECK(req_error("GET /x HTTP/1.1\r\nHost: x\r\n") == "the header does not end with a blank line");
  CHECK(req_error("GET /\x80 HTTP/1.1\r\nHost: x\r\n\r\n") == "a request target with raw bytes");
  std::string big = "GET /x HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 101; ++i) big += "X-" + std::to_string(i) + ": y\r\n";
  CHECK(req_error(big + "\r\n") == "too many header fields");
  CHECK(req_error("GET /x HTTP/1.1\r\nHost: x\r\nX: " + std::string(70000, 'a') + "\r\n\r\n") ==
        "the header is too large");
}

TEST_CASE("a response head", "[kube_http]") {
  HttpHead h;
  std::string e;
  REQUIRE(parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                              h, e));
  CHECK(h.b == "200");
  CHECK(h.chunked);
  REQUIRE(parse_http_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                              h, e));
  CHECK(header_has_token(*h.get("connection"), "upgrade"));
  CHECK_FALSE(parse_http_response("HTTP/1.1 2000 OK\r\n\r\n", h, e));
  CHECK(e == "a malformed status code");
}
