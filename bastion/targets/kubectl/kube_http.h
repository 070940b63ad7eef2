// The small part of HTTP/1.1 the API proxy needs: a request or response
// head (start line and headers) parsed strictly, bounded, failing closed on
// anything odd (obs-fold, bare LF, bad names, conflicting framing).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bastion {

inline constexpr std::size_t kMaxHttpHead = 64 * 1024;
inline constexpr std::size_t kMaxHttpHeaders = 100;

struct HttpHead {
  // Request: method, target, version. Response: version, status, reason.
  std::string a, b, c;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent

  std::optional<std::string> get(const std::string& name) const;  // case-insensitive; the first
  std::size_t count(const std::string& name) const;
  void remove(const std::string& name);
  void set(const std::string& name, const std::string& value);  // replaces every occurrence
  // Body framing: chunked, a length, or (responses only) until close.
  bool chunked = false;
  std::optional<std::size_t> content_length;
  std::string serialize() const;  // start line, headers, blank line
};

// `head` is everything up to and including the blank line's CRLF.
bool parse_http_request(const std::string& head, HttpHead& out, std::string& error);
bool parse_http_response(const std::string& head, HttpHead& out, std::string& error);

bool iequals(const std::string& a, const std::string& b);
// Whether a comma-separated header value has `token` (case-insensitive).
bool header_has_token(const std::string& value, const std::string& token);

}  // namespace bastion
