#include "targets/http/http_request_stream.h"

#include <strings.h>

#include <algorithm>
#include <cctype>

namespace bastion {
namespace {

HttpRequestStream& self(http_parser* p) { return *static_cast<HttpRequestStream*>(p->data); }

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// RFC 9110 5.6.2: a field name is a token. Debian's http-parser is built
// lenient and lets a space through ("Transfer-Encoding : chunked"), which
// the bastion would neither frame nor drop while a lenient upstream reads it.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  return true;
}

std::string trim(std::string_view v) {
  const auto b = v.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const auto e = v.find_last_not_of(" \t");
  return std::string(v.substr(b, e - b + 1));
}

}  // namespace

std::optional<std::string> HttpRequestHead::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (same(k, name)) return v;
  return std::nullopt;
}

HttpRequestStream::HttpRequestStream() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &on_message_begin;
  settings_.on_url = &on_url;
  settings_.on_header_field = &on_header_field;
  settings_.on_header_value = &on_header_value;
  settings_.on_headers_complete = &on_headers_complete;
  settings_.on_body = &on_body;
  settings_.on_message_complete = &on_message_complete;
}

int HttpRequestStream::fail(std::string why) {
  if (!failed_) error_ = std::move(why);
  failed_ = true;
  return -1;
}

int HttpRequestStream::on_message_begin(http_parser* p) {
  auto& s = self(p);
  s.head_ = {};
  s.in_request_ = true;
  s.in_value_ = false;
  return 0;
}

int HttpRequestStream::on_url(http_parser* p, const char* at, std::size_t n) {
  self(p).head_.target.append(at, n);
  return 0;
}

int HttpRequestStream::on_header_field(http_parser* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (s.in_value_ || s.head_.headers.empty()) {
    if (s.head_.headers.size() >= kMaxHeaders) return s.fail("too many header fields");
    s.head_.headers.emplace_back();
    s.in_value_ = false;
  }
  s.head_.headers.back().first.append(at, n);
  return 0;
}

int HttpRequestStream::on_header_value(http_parser* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (s.head_.headers.empty()) return s.fail("a header value without a name");
  s.in_value_ = true;
  s.head_.headers.back().second.append(at, n);
  return 0;
}

int HttpRequestStream::check_head() {
  HttpRequestHead& h = head_;
  h.method = http_method_str(static_cast<http_method>(parser_.method));
  if (parser_.http_major != 1) return fail("only HTTP/1.x is served");
  if (parser_.method == HTTP_CONNECT) return fail("CONNECT is not served");
  // TRACE reflects the request upstream receives, held credential included.
  if (parser_.method == HTTP_TRACE) return fail("TRACE is not served");
  if (parser_.upgrade || h.header("Upgrade")) return fail("protocol upgrades (h2c, websockets) are not served");
  if (h.target.empty() || h.target[0] != '/') return fail("only origin-form request targets (\"/path\") are served");
  // A fragment is never part of a request target (RFC 9112 3.2); curl would
  // strip it, so the upstream would get a shorter path than the one decided.
  if (h.target.find('#') != std::string::npos) return fail("a fragment (#) in the request target");
  int cl = 0, te = 0, host = 0;
  for (auto& [k, v] : h.headers) {
    if (!is_token(k)) return fail("a header name that is not a token (whitespace or a separator in it)");
    v = trim(v);
    if (same(k, "Content-Length")) ++cl;
    if (same(k, "Transfer-Encoding")) {
      ++te;
      if (!same(v, "chunked")) return fail("Transfer-Encoding other than \"chunked\"");
    }
    if (same(k, "Host")) ++host;
    if (v.find('\0') != std::string::npos) return fail("a NUL byte in a header value");
  }
  if (cl > 1) return fail("Content-Length given more than once");
  if (te > 1) return fail("Transfer-Encoding given more than once");
  if (cl && te) return fail("both Content-Length and Transfer-Encoding");
  if (host > 1) return fail("Host given more than once");
  h.chunked = te == 1;
  if (cl) h.content_length = parser_.content_length;
  h.has_body = h.chunked || (h.content_length && *h.content_length > 0);
  if (const auto e = h.header("Expect")) {
    if (!same(*e, "100-continue")) return fail("an Expect other than 100-continue");
    h.expect_continue = true;
  }
  h.keep_alive = http_should_keep_alive(&parser_) != 0;
  return 0;
}

int HttpRequestStream::on_headers_complete(http_parser* p) {
  auto& s = self(p);
  if (s.check_head() != 0) return -1;
  s.head_ready_ = true;
  // Decided before any of its body is read. Without a body the request
  // ends on this same byte: on_message_complete pauses instead.
  if (s.head_.has_body) http_parser_pause(p, 1);
  return 0;
}

int HttpRequestStream::on_body(http_parser* p, const char* at, std::size_t n) {
  self(p).body_.append(at, n);
  return 0;
}

int HttpRequestStream::on_message_complete(http_parser* p) {
  auto& s = self(p);
  s.ended_ = true;
  s.in_request_ = false;
  s.in_head_ = false;
  s.head_bytes_ = 0;
  s.prev_ = s.prev2_ = 0;
  http_parser_pause(p, 1);  // the next request waits until this one is served
  return 0;
}

bool HttpRequestStream::scan_head_bytes(std::string_view data, std::string& why) {
  // Only the bytes up to the head's end (the blank line) are head bytes.
  for (char c : data) {
    if (!in_head_) {
      if (c == '\r' || c == '\n') {  // blank lines before a request are tolerated (RFC 9112 2.2)
        if (c == '\n' && prev_ != '\r') return why = "a bare LF line end", false;
        prev2_ = prev_;
        prev_ = c;
        continue;
      }
      in_head_ = true;
      prev_ = prev2_ = 0;
    }
    if (++head_bytes_ > kMaxHeadBytes) return why = "request head too large", false;
    if (prev_ == '\r' && c != '\n') return why = "a bare CR in the head", false;
    if (c == '\n') {
      if (prev_ != '\r') return why = "a bare LF line end", false;
      if (prev2_ == '\n') {  // CRLF CRLF: the head ends here
        in_head_ = false;
        head_bytes_ = 0;
        prev_ = prev2_ = 0;
        return true;
      }
    } else if (c != '\r' && prev_ == '\n' && (c == ' ' || c == '\t')) {
      return why = "an obsolete folded header line", false;
    }
    prev2_ = prev_;
    prev_ = c;
  }
  return true;
}

HttpRequestStream::Event HttpRequestStream::feed(std::string_view data, std::size_t& used) {
  used = 0;
  // Events found before a fault are told first: body bytes that came ahead
  // of a malformed chunk are the same whatever the reads' sizes.
  if (head_ready_) return head_ready_ = false, Event::head;
  if (!body_.empty()) return Event::body;
  if (ended_) return ended_ = false, Event::end;
  if (failed_) return Event::error;
  if (data.empty()) return Event::need_more;
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  // The head bytes are checked before the parser takes them (it tolerates
  // bare LF and folding; a server behind might read them otherwise).
  if (!in_request_ || in_head_) {
    // Scan up to the blank line that ends the head (body bytes are not head bytes).
    std::string why;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const bool before = in_head_;
      if (!scan_head_bytes(data.substr(i, 1), why)) return fail(why), Event::error;
      if (before && !in_head_) break;  // the blank line ended it
    }
  }
  used = http_parser_execute(&parser_, &settings_, data.data(), data.size());
  const http_errno e = HTTP_PARSER_ERRNO(&parser_);
  if (e != HPE_OK && e != HPE_PAUSED) fail(http_errno_description(e));
  if (head_ready_) return head_ready_ = false, Event::head;
  if (!body_.empty()) return Event::body;
  if (ended_) return ended_ = false, Event::end;
  return failed_ ? Event::error : Event::need_more;
}

}  // namespace bastion
