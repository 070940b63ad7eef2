#include "targets/kubectl/kube_http.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace bastion {
namespace {

bool tchar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool token(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return tchar(static_cast<unsigned char>(c)); });
}

std::string trim_ows(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Splits into CRLF lines; a bare CR or LF anywhere is refused.
bool lines_of(const std::string& head, std::vector<std::string>& lines, std::string& error) {
  if (head.size() > kMaxHttpHead) return error = "the header is too large", false;
  if (!head.ends_with("\r\n\r\n")) return error = "the header does not end with a blank line", false;
  std::size_t at = 0;
  while (at < head.size() - 2) {
    const auto crlf = head.find("\r\n", at);
    const std::string line = head.substr(at, crlf - at);
    if (line.find_first_of("\r\n") != std::string::npos || line.find('\0') != std::string::npos)
      return error = "a bare CR, LF or NUL in the header", false;
    lines.push_back(line);
    at = crlf + 2;
  }
  if (lines.empty()) return error = "an empty header", false;
  return true;
}

bool headers_of(const std::vector<std::string>& lines, HttpHead& out, std::string& error) {
  if (lines.size() - 1 > kMaxHttpHeaders) return error = "too many header fields", false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty() || l[0] == ' ' || l[0] == '\t') return error = "a folded header line", false;
    const auto colon = l.find(':');
    if (colon == std::string::npos) return error = "a header line without a colon", false;
    const std::string name = l.substr(0, colon);
    if (!token(name)) return error = "a malformed header name", false;
    const std::string value = trim_ows(l.substr(colon + 1));
    for (unsigned char c : value)
      if (c < 0x20 && c != '\t') return error = "a control character in a header value", false;
    out.headers.emplace_back(name, value);
  }
  const std::size_t te = out.count("Transfer-Encoding"), cl = out.count("Content-Length");
  if (te && cl) return error = "both Transfer-Encoding and Content-Length", false;
  if (te > 1 || cl > 1) return error = "a repeated framing header", false;
  if (te) {
    if (!iequals(*out.get("Transfer-Encoding"), "chunked")) return error = "a transfer coding other than chunked", false;
    out.chunked = true;
  }
  if (cl) {
    const std::string v = *out.get("Content-Length");
    if (v.empty() || v.size() > 15 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return error = "a malformed Content-Length", false;
    out.content_length = static_cast<std::size_t>(std::strtoull(v.c_str(), nullptr, 10));
  }
  return true;
}

}  // namespace

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool header_has_token(const std::string& value, const std::string& tok) {
  std::size_t at = 0;
  while (at <= value.size()) {
    const auto comma = value.find(',', at);
    if (iequals(trim_ows(value.substr(at, comma == std::string::npos ? std::string::npos : comma - at)), tok))
      return true;
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return false;
}

std::optional<std::string> HttpHead::get(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::size_t HttpHead::count(const std::string& name) const {
  return static_cast<std::size_t>(
      std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

void HttpHead::remove(const std::string& name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

void HttpHead::set(const std::string& name, const std::string& value) {
  remove(name);
  headers.emplace_back(name, value);
}

std::string HttpHead::serialize() const {
  std::string s = a + " " + b + " " + c + "\r\n";
  for (const auto& [k, v] : headers) s += k + ": " + v + "\r\n";
  return s + "\r\n";
}

bool parse_http_request(const std::string& head, HttpHead& out, std::string& error) {
  out = HttpHead{};
  std::vector<std::string> lines;
  if (!lines_of(head, lines, error)) return false;
  const std::string& l = lines[0];
  const auto s1 = l.find(' '), s2 = l.rfind(' ');
  if (s1 == std::string::npos || s1 == s2) return error = "a malformed request line", false;
  out.a = l.substr(0, s1);
  out.b = l.substr(s1 + 1, s2 - s1 - 1);
  out.c = l.substr(s2 + 1);
  if (!token(out.a)) return error = "a malformed method", false;
  if (out.b.empty() || out.b[0] != '/' || out.b.find_first_of(" \t") != std::string::npos)
    return error = "the request target must be a path", false;
  for (unsigned char c : out.b)
    if (c <= 0x20 || c >= 0x7f) return error = "a request target with raw bytes", false;
  if (out.c != "HTTP/1.1") return error = "only HTTP/1.1 is spoken here", false;
  if (!headers_of(lines, out, error)) return false;
  if (out.count("Host") != 1) return error = "exactly one Host header is required", false;
  return true;
}

bool parse_http_response(const std::string& head, HttpHead& out, std::string& error) {
  out = HttpHead{};
  std::vector<std::string> lines;
  if (!lines_of(head, lines, error)) return false;
  const std::string& l = lines[0];
  const auto s1 = l.find(' ');
  if (s1 == std::string::npos) return error = "a malformed status line", false;
  out.a = l.substr(0, s1);
  const auto s2 = l.find(' ', s1 + 1);
  out.b = l.substr(s1 + 1, s2 == std::string::npos ? std::string::npos : s2 - s1 - 1);
  out.c = s2 == std::string::npos ? "" : l.substr(s2 + 1);
  if (out.a != "HTTP/1.1" && out.a != "HTTP/1.0") return error = "a malformed status line", false;
  if (out.b.size() != 3 || !std::all_of(out.b.begin(), out.b.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return error = "a malformed status code", false;
  return headers_of(lines, out, error);
}

}  // namespace bastion
