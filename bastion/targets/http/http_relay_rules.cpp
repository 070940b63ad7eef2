#include "targets/http/http_relay_rules.h"

#include <strings.h>

#include <array>
#include <cctype>

namespace bastion {
namespace {

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool has_prefix(std::string_view name, std::string_view prefix) {
  return name.size() > prefix.size() && same(name.substr(0, prefix.size()), prefix);
}

// Hop-by-hop headers (RFC 9110 7.6.1) and what the bastion sets itself.
constexpr std::array kRequestFraming = {"Host", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                                        "Transfer-Encoding", "Upgrade", "Expect", "Content-Length",
                                        // masks read text as sent: the bastion asks for identity itself
                                        "Accept-Encoding"};
// The client's own credentials (Cookie too: the policy is never shown it).
constexpr std::array kRequestCredentials = {"Authorization", "Proxy-Authorization", "Cookie"};
// What an upstream would take as its proxy's word: where the request came
// from, and who sent it (an auth proxy's identity headers: oauth2-proxy's
// X-Auth-Request-*, Grafana's X-WEBAUTH-USER, Apache's Remote-User...).
constexpr std::array kRequestProxyWord = {"Forwarded", "X-Real-IP", "X-Forwarded-User", "X-Remote-User",
                                          "Remote-User", "X-WEBAUTH-USER", "X-Remote-Group", "X-Remote-Extra"};
constexpr std::array kRequestProxyWordPrefixes = {"X-Forwarded-", "X-Auth-Request-", "X-Remote-Extra-"};

// Challenges are dropped so a client never tries (or learns of) the
// upstream's own authentication; cookies because a session the upstream
// opens for the held credential is that credential.
constexpr std::array kResponse = {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                                  "Transfer-Encoding", "Upgrade", "WWW-Authenticate", "Proxy-Authenticate",
                                  "Authentication-Info", "Content-Length", "Set-Cookie", "Set-Cookie2"};

// Response bodies the masks skip (a bulk blob streams untouched). Compare
// lower-case, without parameters.
constexpr std::array kBinaryTypePrefixes = {"image/", "audio/", "video/", "font/",
                                            "application/vnd.oci.image.layer.",      // OCI layers
                                            "application/vnd.docker.image.rootfs."};  // Docker layers
constexpr std::array kBinaryTypes = {"application/octet-stream", "application/zip",  "application/gzip",
                                     "application/x-gzip",       "application/x-tar", "application/x-bzip2",
                                     "application/x-xz",         "application/zstd",  "application/x-7z-compressed"};

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

template <typename List>
bool listed(std::string_view name, const List& list) {
  for (const char* n : list)
    if (same(name, n)) return true;
  return false;
}

}  // namespace

bool http_request_header_dropped(std::string_view name) {
  for (const char* p : kRequestProxyWordPrefixes)
    if (has_prefix(name, p)) return true;
  return listed(name, kRequestFraming) || listed(name, kRequestCredentials) || listed(name, kRequestProxyWord);
}

bool http_response_header_dropped(std::string_view name) { return listed(name, kResponse); }

// Masks run on every body but the known binary ones (layers, blobs,
// media, archives): a type the list does not name, or none at all, is
// masked (YAML, JavaScript, form data, message/http all carry text).
bool http_body_masked(const std::string& content_type) {
  std::string t = lower_ascii(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  const auto b = t.find_first_not_of(" \t");
  t = b == std::string::npos ? "" : t.substr(b);
  for (const char* prefix : kBinaryTypePrefixes)
    if (t.rfind(prefix, 0) == 0) return false;
  for (const char* type : kBinaryTypes)
    if (t == type) return false;
  return true;
}

}  // namespace bastion
