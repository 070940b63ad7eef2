#include "targets/http/http_kind.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <curl/curl.h>

#include "targets/http/http_facts.h"
#include "targets/http/http_settings.h"
#include "targets/http/http_target.h"

namespace bastion {
namespace {

bool loopback_host(const std::string& h) { return h == "127.0.0.1" || h == "[::1]" || h == "::1" || h == "localhost"; }

struct CurlUrl {
  CURLU* u = curl_url();
  ~CurlUrl() { curl_url_cleanup(u); }
  std::string get(CURLUPart part) const {
    char* v = nullptr;
    if (curl_url_get(u, part, &v, 0) != CURLUE_OK || !v) return "";
    std::string s = v;
    curl_free(v);
    return s;
  }
};

}  // namespace

std::set<std::string> HttpKind::keys() const {
  return {"url",   "ca_file",     "registry",    "token_realms", "decision_timeout", "request_head_timeout",
          "idle_timeout", "basic", "bearer_file", "client_cert", "client_key"};
}

std::shared_ptr<const TargetSettings> HttpKind::read_settings(const TableReader& r) const {
  auto s = std::make_shared<HttpSettings>();
  s->url = r.need("url");
  CurlUrl u;
  if (!u.u || curl_url_set(u.u, CURLUPART_URL, s->url.c_str(), 0) != CURLUE_OK)
    r.fail("url", "not a URL: \"" + s->url + "\"");
  const std::string scheme = u.get(CURLUPART_SCHEME), host = u.get(CURLUPART_HOST), port = u.get(CURLUPART_PORT);
  if (!u.get(CURLUPART_USER).empty() || !u.get(CURLUPART_PASSWORD).empty())
    r.fail("url", "must not hold a user or password (give the target basic = { user = ..., password_file = ... })");
  if (!u.get(CURLUPART_QUERY).empty() || !u.get(CURLUPART_FRAGMENT).empty())
    r.fail("url", "must not hold a query or fragment");
  if (scheme == "http") {
    if (!loopback_host(host))
      r.fail("url", "http:// only to a loopback host (the held credential would cross the network in clear); use https://");
    s->loopback_http = true;
  } else if (scheme != "https") {
    r.fail("url", "expected an https:// URL");
  }
  s->origin = scheme + "://" + host + (port.empty() ? "" : ":" + port);
  s->base_path = u.get(CURLUPART_PATH);
  while (!s->base_path.empty() && s->base_path.back() == '/') s->base_path.pop_back();
  if (auto ca = r.str("ca_file")) s->ca_file = r.reader().resolve(*ca);
  s->registry = r.boolean("registry").value_or(false);
  s->token_realms = r.reader().str_list("token_realms", r.line_of("token_realms"), r.qual());
  for (const auto& realm : s->token_realms)
    if (realm.rfind("https://", 0) != 0 || realm.find('/', 8) == std::string::npos)
      r.fail("token_realms", "\"" + realm + "\": expected https://HOST/... (the held credential goes only there)");
  if (s->token_realms.empty()) s->token_realms.push_back(s->origin + "/");
  s->decision_timeout = static_cast<int>(r.duration("decision_timeout", 1, 600).value_or(30));
  s->request_head_timeout = static_cast<int>(r.duration("request_head_timeout", 1, 3600).value_or(30));
  s->idle_timeout = static_cast<int>(r.duration("idle_timeout", 1, 86400).value_or(60));
  return s;
}

std::shared_ptr<const HeldCredential> HttpKind::read_credential(const TableReader& r, const TargetSettings&, bool,
                                                                bool check_files) const {
  auto c = std::make_shared<HttpCredential>();
  const auto basic = r.reader().str_map("basic", r.line_of("basic"), r.qual());
  const auto bearer = r.str("bearer_file");
  const auto cert = r.str("client_cert"), key = r.str("client_key");
  if (!basic.empty() && bearer) r.fail("bearer_file", "give basic or bearer_file, not both");
  if (cert.has_value() != key.has_value())
    r.fail(cert ? "client_key" : "client_cert", "client_cert and client_key go together");
  if (basic.empty() && !bearer && !cert)
    r.fail("url", "no credential: give basic = { user = ..., password_file = ... }, bearer_file or client_cert + client_key");
  std::string basic_password_file;
  if (!basic.empty()) {
    for (const auto& [k, v] : basic)
      if (k != "user" && k != "password_file")
        r.fail("basic", "unknown key \"" + k + "\" (expected user and password_file)");
    if (!basic.count("user") || !basic.count("password_file")) r.fail("basic", "expected user and password_file");
    c->basic_user = basic.at("user");
    if (c->basic_user.find(':') != std::string::npos) r.fail("basic", "the user must not hold ':'");
    basic_password_file = r.reader().resolve(basic.at("password_file"));
  }
  if (cert) c->client_cert = r.reader().resolve(*cert);
  if (!check_files) return c;
  if (!basic_password_file.empty()) {
    r.read_secret("basic", basic_password_file, c->basic_password);
    while (!c->basic_password.bytes.empty() &&
           (c->basic_password.bytes.back() == '\n' || c->basic_password.bytes.back() == '\r'))
      c->basic_password.bytes.pop_back();
    if (c->basic_password.empty()) r.fail("basic", basic_password_file + ": empty password");
  }
  if (bearer) {
    r.read_secret("bearer_file", r.reader().resolve(*bearer), c->bearer);
    while (!c->bearer.bytes.empty() && (c->bearer.bytes.back() == '\n' || c->bearer.bytes.back() == '\r'))
      c->bearer.bytes.pop_back();
    if (c->bearer.empty() || c->bearer.bytes.find_first_of("\r\n") != std::string::npos)
      r.fail("bearer_file", "expected one line: the token");
  }
  if (cert) {
    r.check_readable("client_cert", c->client_cert);
    r.read_secret("client_key", r.reader().resolve(*key), c->client_key);
  }
  return c;
}

void HttpKind::check_setting_files(const TableReader& r, const TargetSettings& s) const {
  const auto& h = kind_part<HttpSettings>(&s);
  if (!h.ca_file.empty()) r.check_readable("ca_file", h.ca_file);
}

void HttpKind::check_warnings(const TargetConfig& t, std::set<std::string>&, std::vector<std::string>& out) const {
  const auto& h = http_settings(t);
  if (h.loopback_http)
    out.push_back("targets." + t.name + ": url is http:// (loopback only): the upstream is not authenticated by TLS");
}

std::unique_ptr<TargetConnection> HttpKind::connect(const TargetConfig& t, const HeldCredential& cred,
                                                    std::string& error) const {
  return HttpTargetConnection::connect(t, kind_part<HttpCredential>(&cred), error);
}

CommandOptions HttpKind::target_command_options(const TargetConfig& t) const {
  return {{"registry", http_settings(t).registry ? "true" : "false"}};
}

// "METHOD /path?query", as the tunnel reads a request line.
ParsedCommand HttpKind::parse_command(const std::string&, const std::string& text, const CommandOptions& options) const {
  ParsedCommand p{.text = text};
  HttpFacts f;
  const auto sp = text.find(' ');
  f.method = text.substr(0, sp);
  std::string target = sp == std::string::npos ? "/" : text.substr(sp + 1);
  split_target(target, f.path, f.query);
  const auto reg = options.find("registry");
  if (reg != options.end() && reg->second != "false") f.registry = registry_facts(f.method, f.path);
  registry_mount_facts(f);
  p.refusal = http_path_problem(f.path);
  if (p.refusal.empty()) p.refusal = http_query_problem(f.query);
  p.text = http_request_text(f);
  p.facts = std::make_shared<HttpCommandFacts>(std::move(f));
  return p;
}

}  // namespace bastion
