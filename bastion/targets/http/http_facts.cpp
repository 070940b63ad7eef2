#include "targets/http/http_facts.h"

#include <cctype>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace bastion {
namespace {

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  for (;;) {
    const auto e = s.find('/', b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += (i ? "/" : "") + v[i];
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// An encoded unreserved character ("%61" for "a") is the same text to an
// upstream that decodes (RFC 3986 6.2.2.2; Go's net/http routes on the
// decoded path and reads decoded query values) but not to a policy
// comparing text: refused, like a '%' that is not an encoding.
std::string encoding_problem(const std::string& s, const char* what) {
  for (std::size_t i = s.find('%'); i != std::string::npos; i = s.find('%', i + 1)) {
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::string("the ") + what + " holds a '%' that is not a percent-encoding";
    const char c = static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '~' || c == '.')
      return std::string("the ") + what + " holds an encoded unreserved character (" + s.substr(i, 3) +
             "): send it unencoded";
  }
  return "";
}

}  // namespace

// The query is part of what is decided (a mount's from=, an API's
// ?force=true): the approver and the audit see it.
std::string http_request_text(const HttpFacts& f) {
  return f.method + " " + f.path + (f.query.empty() ? "" : "?" + f.query);
}

void split_target(const std::string& target, std::string& path, std::string& query) {
  const auto q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string::npos ? "" : target.substr(q + 1);
}

std::string http_query_problem(const std::string& query) { return encoding_problem(query, "query"); }

bool http_header_is_credential(const std::string& n) {
  return n == "authorization" || n == "proxy-authorization" || n == "cookie";
}

std::string http_path_problem(const std::string& path) {
  if (path.empty() || path[0] != '/') return "the path must start with /";
  const std::string l = lower(path);
  for (const char* enc : {"%2f", "%2e", "%5c", "%25", "%00"})
    if (l.find(enc) != std::string::npos) return std::string("the path holds an encoded ") + enc;
  if (const std::string why = encoding_problem(path, "path"); !why.empty()) return why;
  if (path.find('\\') != std::string::npos) return "the path holds a backslash";
  const auto segs = split_path(path.substr(1));
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (segs[i] == "." || segs[i] == "..") return "the path holds a dot segment";
    if (segs[i].empty() && i + 1 < segs.size()) return "the path holds an empty segment";
  }
  return "";
}

HttpRegistryFacts registry_facts(const std::string& method, const std::string& path) {
  HttpRegistryFacts r;
  if (path == "/v2" || path == "/v2/") {
    if (method == "GET" || method == "HEAD") r.action = "ping";
    return r;
  }
  if (path.rfind("/v2/", 0) != 0) return r;
  const auto s = split_path(path.substr(4));
  const std::size_t n = s.size();
  if (s == std::vector<std::string>{"_catalog"}) {
    if (method == "GET") r.action = "catalog";
    return r;
  }
  const bool del = method == "DELETE";
  auto is = [&](std::size_t from_end, const char* w) { return n > from_end && s[n - 1 - from_end] == w; };
  // .../blobs/uploads/ or .../blobs/uploads/UUID
  if (n >= 3 && is(1, "uploads") && is(2, "blobs")) {
    r.repository = join(s, n - 3);
    r.action = del ? "delete" : (method == "POST" || method == "PATCH" || method == "PUT" || method == "GET") ? "push" : "";
  } else if (n >= 3 && is(1, "manifests") && !s[n - 1].empty()) {
    r.repository = join(s, n - 2);
    r.reference = s[n - 1];
    r.action = del ? "delete" : (method == "GET" || method == "HEAD") ? "pull" : method == "PUT" ? "push" : "";
  } else if (n >= 3 && is(1, "blobs") && !s[n - 1].empty()) {
    r.repository = join(s, n - 2);
    r.reference = s[n - 1];
    r.action = del ? "delete" : (method == "GET" || method == "HEAD") ? "pull" : "";
  } else if (n >= 3 && is(1, "tags") && s[n - 1] == "list") {
    r.repository = join(s, n - 2);
    r.action = method == "GET" ? "pull" : "";
  }
  if (r.repository.empty()) r.action.clear();
  return r;
}

namespace {

// RFC 3986 percent-decoding; nullopt for a broken escape.
std::optional<std::string> percent_decoded(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

}  // namespace

void registry_mount_facts(HttpFacts& f) {
  if (!f.registry || f.registry->action != "push" || f.method != "POST") return;
  const std::string& p = f.path;
  if (p.size() < 15 || p.compare(p.size() - 15, 15, "/blobs/uploads/") != 0) return;
  auto refuse = [&] { f.registry->action.clear(); };
  // Go's FormValue reads a form body before the query: the policy never sees it.
  const auto ct = f.headers.find("content-type");
  if (ct != f.headers.end()) {
    const std::string t = lower(ct->second);
    if (t.rfind("application/x-www-form-urlencoded", 0) == 0 || t.rfind("multipart/form-data", 0) == 0)
      return refuse();
  }
  if (f.query.find_first_of("+;") != std::string::npos) return refuse();
  int froms = 0;
  std::size_t b = 0;
  while (b <= f.query.size() && !f.query.empty()) {
    const auto e = f.query.find('&', b);
    const std::string pair = f.query.substr(b, e == std::string::npos ? std::string::npos : e - b);
    const auto eq = pair.find('=');
    const auto key = percent_decoded(pair.substr(0, eq));
    const auto val = percent_decoded(eq == std::string::npos ? "" : pair.substr(eq + 1));
    if (!key || !val) return refuse();
    if (*key == "from") {
      if (++froms > 1) return refuse();
      f.registry->from = *val;
    }
    if (e == std::string::npos) break;
    b = e + 1;
  }
}

void HttpCommandFacts::describe(FactWriter& out) const {
  out.text("method", facts.method);
  out.text("path", facts.path);
  out.text("query", facts.query);
  out.map("headers", facts.headers);
  if (!facts.registry) return;
  // A table of strings: c.http.registry.action.
  out.map("registry", {{"repository", facts.registry->repository},
                       {"reference", facts.registry->reference},
                       {"action", facts.registry->action},
                       {"from", facts.registry->from}});
}

std::string HttpCommandFacts::audit_details() const {
  nlohmann::json j = {{"method", facts.method}, {"path", facts.path}};
  if (!facts.query.empty()) j["query"] = facts.query;
  if (facts.registry)
    j["registry"] = {{"repository", facts.registry->repository}, {"reference", facts.registry->reference},
                     {"action", facts.registry->action}};
  if (facts.registry && !facts.registry->from.empty()) j["registry"]["from"] = facts.registry->from;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
