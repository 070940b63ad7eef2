// The request framing layer of the HTTP target: client bytes in, requests
// out (a head, then its body in pieces, then its end), parsed by Debian's
// http-parser (never by hand). It refuses, rather than guesses, whatever two
// HTTP implementations could frame differently (request smuggling): both
// Content-Length and Transfer-Encoding, Content-Length twice, any
// Transfer-Encoding but "chunked", obs-fold continuation lines, a bare LF
// line end, absolute-form targets, CONNECT, Upgrade (h2c too), and heads
// past kMaxHeadBytes or kMaxHeaders. Memory is bounded by what one feed()
// is given: body bytes are handed out as they arrive, never accumulated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <http_parser.h>

namespace bastion {

struct HttpRequestHead {
  std::string method;  // "GET"
  std::string target;  // origin-form as sent: "/v2/app/manifests/1.2?x=y"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  bool has_body = false;          // Content-Length > 0 or chunked
  bool chunked = false;
  std::optional<uint64_t> content_length;
  bool expect_continue = false;   // "Expect: 100-continue"
  bool keep_alive = true;         // the client allows another request on this connection
  // The value of the first header named `name` (any case), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

class HttpRequestStream {
 public:
  static constexpr std::size_t kMaxHeadBytes = 32 * 1024;
  static constexpr std::size_t kMaxHeaders = 100;

  enum class Event {
    need_more,  // every byte given was taken; feed more
    head,       // a request head is ready: head()
    body,       // body bytes are ready: take_body()
    end,        // the request's body is complete (after head and bodies)
    error,      // malformed or refused: error(); the connection must close
  };

  HttpRequestStream();
  HttpRequestStream(const HttpRequestStream&) = delete;
  HttpRequestStream& operator=(const HttpRequestStream&) = delete;

  // Parses from `data`; `used` is how many bytes it took (the rest must be
  // given again). Stops at each event so the caller can act on it (decide a
  // head before any of its body is parsed).
  Event feed(std::string_view data, std::size_t& used);
  // The client closed its side: an error when it was inside a request.
  bool at_request_boundary() const { return !in_request_; }

  const HttpRequestHead& head() const { return head_; }
  std::string take_body() { return std::exchange(body_, {}); }
  const std::string& error() const { return error_; }

 private:
  static int on_message_begin(http_parser*);
  static int on_url(http_parser*, const char*, std::size_t);
  static int on_header_field(http_parser*, const char*, std::size_t);
  static int on_header_value(http_parser*, const char*, std::size_t);
  static int on_headers_complete(http_parser*);
  static int on_body(http_parser*, const char*, std::size_t);
  static int on_message_complete(http_parser*);
  int fail(std::string why);
  int check_head();
  // Line ends inside a head: CRLF only, no continuation lines.
  bool scan_head_bytes(std::string_view data, std::string& why);

  http_parser parser_{};
  http_parser_settings settings_{};
  HttpRequestHead head_;
  std::string body_, error_;
  std::size_t head_bytes_ = 0;
  bool in_request_ = false, in_head_ = false, in_value_ = false, head_ready_ = false, ended_ = false,
       failed_ = false;
  char prev_ = 0, prev2_ = 0;  // the last two head bytes scanned (line-end checks across feeds)
};

}  // namespace bastion
