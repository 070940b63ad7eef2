#include "targets/kubectl/kube_request.h"

#include <vector>

namespace bastion {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool split_path(const std::string& path, std::vector<std::string>& parts) {
  std::size_t i = 1;
  while (i <= path.size()) {
    const std::size_t j = path.find('/', i);
    const std::string seg = path.substr(i, j == std::string::npos ? std::string::npos : j - i);
    std::string dec;
    // An encoded '/' or a dot segment would let a path mean two things.
    if (!url_decode(seg, dec, false) || dec.find('/') != std::string::npos || dec == "." || dec == "..") return false;
    if (!dec.empty()) parts.push_back(dec);
    else if (j != std::string::npos) return false;  // "//": the API server would not route it
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return true;
}

}  // namespace

bool url_decode(const std::string& in, std::string& out, bool plus_is_space) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int a = hex(in[i + 1]), b = hex(in[i + 2]);
      if (a < 0 || b < 0) return false;
      const char d = static_cast<char>(a * 16 + b);
      if (d == '\0') return false;
      out += d;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

std::string kube_request_text(const KubeRequestFacts& f) { return f.method + " " + f.path; }

KubeRequestInfo kube_request_info(const std::string& method, const std::string& target) {
  KubeRequestInfo r;
  KubeRequestFacts& f = r.facts;
  f.method = method;
  const std::size_t q = target.find('?');
  f.path = target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
  if (f.path.empty() || f.path[0] != '/') return r.error = "the request path must start with /", r;
  if (f.path.find('#') != std::string::npos) return r.error = "a fragment in the request path", r;
  std::vector<std::string> parts;
  if (!split_path(f.path, parts)) return r.error = "a malformed request path", r;

  // Query parameters the verb depends on: watch, and exec's command.
  bool watch = false;
  std::size_t i = 0;
  while (i <= query.size() && !query.empty()) {
    const std::size_t j = query.find('&', i);
    const std::string kv = query.substr(i, j == std::string::npos ? std::string::npos : j - i);
    const std::size_t eq = kv.find('=');
    std::string k, v;
    if (!url_decode(kv.substr(0, eq), k, true) ||
        !url_decode(eq == std::string::npos ? "" : kv.substr(eq + 1), v, true))
      return r.error = "a malformed query string", r;
    if (k == "watch") watch = v == "true" || v == "1";
    if (k == "command") f.command.push_back(v);
    if (j == std::string::npos) break;
    i = j + 1;
  }

  // /api/v1/... (core) or /apis/GROUP/VERSION/...; everything else is not a resource.
  std::size_t at = 0;
  if (parts.size() >= 2 && parts[0] == "api") {
    f.version = parts[1];
    at = 2;
  } else if (parts.size() >= 3 && parts[0] == "apis") {
    f.group = parts[1];
    f.version = parts[2];
    at = 3;
  }
  if (at == 0 || parts.size() == at) {  // not a resource: /api, /apis/apps/v1, /version, /metrics, /logs ...
    if (method != "GET" && method != "HEAD") return r.error = "only GET is allowed on " + f.path, r;
    f.verb = "get";
    // Only API discovery passes without a decision; any other path the API
    // server serves (/metrics, /logs/..., /debug/pprof, /healthz?verbose)
    // is a request like any other: decided (c.kube.resource "") and audited.
    const bool api_discovery = (parts.size() <= 2 && !parts.empty() && parts[0] == "api") ||
                               (parts.size() <= 3 && !parts.empty() && parts[0] == "apis");
    r.discovery = parts.empty() || api_discovery || (parts.size() == 1 && parts[0] == "version") ||
                  (!parts.empty() && parts[0] == "openapi");  // schemas, not data
    return r;
  }
  r.resource = true;
  std::vector<std::string> rest(parts.begin() + static_cast<long>(at), parts.end());
  // The API server's legacy /watch/ prefix.
  if (rest[0] == "watch") {
    watch = true;
    rest.erase(rest.begin());
    if (rest.empty()) return r.error = "a malformed request path", r;
  }
  // namespaces/NS/RESOURCE... (a namespace itself is namespaces/NS with no third part)
  // As the API server: namespaces/NS/status and /finalize are the namespace's own subresources.
  if (rest[0] == "namespaces" && rest.size() >= 3 && rest[2] != "status" && rest[2] != "finalize") {
    f.namespace_name = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  } else if (rest[0] == "namespaces" && rest.size() >= 2) {
    f.namespace_name = rest[1];  // the API server sets the namespace of a namespace to itself
  }
  // Only proxy carries a path of its own after the subresource (pods/P/proxy/any/path).
  if (rest.size() > 3 && rest[2] != "proxy") return r.error = "a malformed request path", r;
  f.resource = rest[0];
  if (rest.size() >= 2) f.name = rest[1];
  if (rest.size() >= 3) f.subresource = rest[2];

  const bool named = !f.name.empty();
  if (method == "GET" || method == "HEAD") {
    f.verb = watch ? "watch" : named ? "get" : "list";
  } else if (method == "POST") {
    f.verb = "create";
  } else if (method == "PUT") {
    f.verb = "update";
  } else if (method == "PATCH") {
    f.verb = "patch";
  } else if (method == "DELETE") {
    f.verb = named ? "delete" : "deletecollection";
  } else {
    return r.error = "method " + method + " is not a Kubernetes API verb", r;
  }
  // Connect subresources: the verb is what they do, whatever the method.
  if (f.subresource == "exec" || f.subresource == "attach" || f.subresource == "portforward" ||
      f.subresource == "proxy")
    f.verb = f.subresource;
  if (!f.command.empty() && f.verb != "exec") f.command.clear();
  return r;
}

}  // namespace bastion
