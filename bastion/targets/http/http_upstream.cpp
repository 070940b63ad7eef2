#include "targets/http/http_upstream.h"

#include <strings.h>

#include <memory>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

namespace bastion {
namespace {

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;

bool add(Slist& l, const std::string& line) {
  curl_slist* n = curl_slist_append(l.get(), line.c_str());
  if (!n) return false;
  l.release();
  l.reset(n);
  return true;
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string trim_crlf(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

// One perform's response as curl reports it.
struct Transfer {
  ResponseSink* sink = nullptr;
  const BodySource* body = nullptr;
  const std::atomic<bool>* stop = nullptr;
  long status = 0;
  HttpHeaders headers;
  bool head_done = false, head_sent = false, swallow = false, may_retry = false, sink_failed = false;
  std::string challenge;  // a Bearer challenge swallowed for a retry
  uint64_t down = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* p) {
  auto& t = *static_cast<Transfer*>(p);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (1xx, or after one)
    t.headers.clear();
    t.head_done = false;
    const auto sp = line.find(' ');
    t.status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return size * n;
  }
  if (line == "\r\n" || line == "\n") {
    if (t.status < 200) return size * n;  // 100 Continue and such: not the response
    t.head_done = true;
    if (t.status == 401 && t.may_retry) {
      for (const auto& [k, v] : t.headers)
        if (same(k, "WWW-Authenticate") && parse_bearer_challenge(v)) t.challenge = v;
      if (!t.challenge.empty()) {
        t.swallow = true;  // answered again once the token is fetched
        return size * n;
      }
    }
    t.head_sent = true;
    if (!t.sink->head(t.status, t.headers)) return t.sink_failed = true, 0;
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;  // a folded or odd line: dropped
  std::string v = line.substr(colon + 1);
  const auto b = v.find_first_not_of(" \t");
  t.headers.emplace_back(line.substr(0, colon), b == std::string::npos ? "" : trim_crlf(v.substr(b)));
  return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* p) {
  auto& t = *static_cast<Transfer*>(p);
  if (t.swallow) return size * n;
  t.down += size * n;
  if (!t.sink->body(std::string_view(data, size * n))) return t.sink_failed = true, 0;
  return size * n;
}

size_t on_read(char* buf, size_t size, size_t n, void* p) {
  auto& t = *static_cast<Transfer*>(p);
  const long got = (*t.body)(buf, size * n);
  if (got < 0) return CURL_READFUNC_ABORT;
  return static_cast<size_t>(got);
}

int on_progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(p)->stop->load() ? 1 : 0;
}

// The token fetch stops with its channel too (the session thread joins
// this worker when the channel closes).
int on_stop_flag(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(p)->load() ? 1 : 0;
}

size_t to_string(char* data, size_t size, size_t n, void* p) {
  auto& s = *static_cast<std::string*>(p);
  if (s.size() + size * n > 64 * 1024) return 0;  // a token response is small
  s.append(data, size * n);
  return size * n;
}

}  // namespace

HttpUpstream::HttpUpstream(const HttpSettings& s, const HttpCredential& c, HttpTokenCache& tokens,
                           const std::atomic<bool>& stop)
    : s_(s), c_(c), tokens_(tokens), stop_(stop), h_(curl_easy_init()) {}

HttpUpstream::~HttpUpstream() {
  if (h_) curl_easy_cleanup(h_);
}

void HttpUpstream::common_options(CURL* h, const std::string& url) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, s_.loopback_http ? "http" : "https");
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);  // the path the policy decided, not a normalised one
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!s_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, s_.ca_file.c_str());
  if (!c_.client_cert.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, c_.client_cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_blob key{const_cast<char*>(c_.client_key.bytes.data()), c_.client_key.bytes.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

ForwardResult HttpUpstream::forward(const ForwardRequest& req, const BodySource& body, ResponseSink& sink) {
  if (!h_) return ForwardResult{.error = "cannot start an HTTP client"};
  std::string challenge;
  // Only a request without a body can be sent again after a challenge.
  const bool may_retry = s_.registry && !req.has_body;
  ForwardResult r = perform(req, body, sink, may_retry, challenge);
  if (challenge.empty() || !r.ok) return r;
  std::string err;
  if (!fetch_token(challenge, req.repository, err)) return ForwardResult{.error = "registry token: " + err};
  std::string again;
  return perform(req, body, sink, false, again);
}

ForwardResult HttpUpstream::perform(const ForwardRequest& req, const BodySource& body, ResponseSink& sink,
                                    bool may_retry, std::string& challenge) {
  curl_easy_reset(h_);  // keeps the connection cache
  common_options(h_, s_.origin + s_.base_path + req.target);
  Slist hdrs;
  bool accept = false;
  for (const auto& [k, v] : req.headers) {
    if (same(k, "Accept")) accept = true;
    if (!add(hdrs, k + ": " + v)) return ForwardResult{.error = "out of memory"};
  }
  add(hdrs, "Expect:");  // the bastion answered the client's Expect itself
  add(hdrs, "Accept-Encoding: identity");  // curl does not decode: masks must read the text itself
  if (!accept) add(hdrs, "Accept:");
  // The held credential: a registry token when one was earned, else basic or bearer.
  std::optional<std::string> token;
  if (s_.registry) token = tokens_.token_for_repository(req.repository);
  if (token) {
    add(hdrs, "Authorization: Bearer " + *token);
  } else if (!c_.bearer.empty()) {
    add(hdrs, "Authorization: Bearer " + c_.bearer.bytes);
  } else if (!c_.basic_user.empty()) {
    curl_easy_setopt(h_, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h_, CURLOPT_USERNAME, c_.basic_user.c_str());
    curl_easy_setopt(h_, CURLOPT_PASSWORD, c_.basic_password.bytes.c_str());
  }
  if (token) explicit_bzero(token->data(), token->size());
  curl_easy_setopt(h_, CURLOPT_HTTPHEADER, hdrs.get());

  Transfer t;
  t.sink = &sink;
  t.body = &body;
  t.stop = &stop_;
  t.may_retry = may_retry;
  curl_easy_setopt(h_, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h_, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(h_, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h_, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h_, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(h_, CURLOPT_XFERINFODATA, &t);
  if (req.method == "HEAD") {
    curl_easy_setopt(h_, CURLOPT_NOBODY, 1L);
  } else if (req.has_body || req.content_length) {
    curl_easy_setopt(h_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h_, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(h_, CURLOPT_READDATA, &t);
    curl_easy_setopt(h_, CURLOPT_INFILESIZE_LARGE,
                     req.content_length ? static_cast<curl_off_t>(*req.content_length) : static_cast<curl_off_t>(-1));
    curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  const CURLcode rc = curl_easy_perform(h_);
  ForwardResult r;
  r.head_sent = t.head_sent;
  r.status = t.status;
  r.bytes_down = t.down;
  curl_off_t up = 0;
  if (curl_easy_getinfo(h_, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0) r.bytes_up = static_cast<uint64_t>(up);
  if (rc != CURLE_OK) {
    r.error = t.sink_failed ? "the client went away" : stop_.load() ? "the channel closed" : curl_easy_strerror(rc);
    return r;
  }
  r.ok = true;
  if (t.swallow) challenge = t.challenge;
  else if (!t.head_sent && t.head_done) {  // a response whose head the callback did not pass (cannot happen)
    r.ok = false;
    r.error = "no response head";
  }
  return r;
}

bool HttpUpstream::fetch_token(const std::string& challenge, const std::string& repository, std::string& error) {
  const auto params = parse_bearer_challenge(challenge);
  if (!params || !params->count("realm")) return error = "challenge without a realm", false;
  const std::string realm = params->at("realm");
  // The held credential goes only where the config says (by default the
  // upstream's own origin): a registry cannot send it elsewhere.
  bool trusted = false;
  for (const auto& prefix : s_.token_realms) trusted = trusted || realm.rfind(prefix, 0) == 0;
  if (!trusted) return error = "the token realm is not in token_realms", false;
  CURL* h = curl_easy_init();
  if (!h) return error = "cannot start an HTTP client", false;
  std::unique_ptr<CURL, void (*)(CURL*)> guard(h, &curl_easy_cleanup);
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  bool first = true;
  for (const char* k : {"service", "scope"}) {
    const auto it = params->find(k);
    if (it == params->end()) continue;
    char* e = curl_easy_escape(h, it->second.c_str(), static_cast<int>(it->second.size()));
    if (!e) return error = "out of memory", false;
    url += std::string(first ? "" : "&") + k + "=" + e;
    curl_free(e);
    first = false;
  }
  common_options(h, url);
  if (!realm.empty() && realm.rfind("http://", 0) == 0) curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
  else curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  if (!c_.basic_user.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h, CURLOPT_USERNAME, c_.basic_user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, c_.basic_password.bytes.c_str());
  }
  Slist hdrs;
  if (c_.basic_user.empty() && !c_.bearer.empty()) add(hdrs, "Authorization: Bearer " + c_.bearer.bytes);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs.get());
  HeldSecret resp;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &to_string);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.bytes);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_stop_flag);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&stop_));
  if (curl_easy_perform(h) != CURLE_OK)
    return error = stop_.load() ? "the channel closed" : "the token request failed", false;
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return error = "the token endpoint answered " + std::to_string(status), false;
  const auto j = nlohmann::json::parse(resp.bytes, nullptr, false);
  if (!j.is_object()) return error = "the token response is not JSON", false;
  std::string token;
  for (const char* k : {"token", "access_token"})
    if (j.contains(k) && j[k].is_string()) token = j[k].get<std::string>();
  if (token.empty()) return error = "the token response holds no token", false;
  long lifetime = 60;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer())
    lifetime = std::clamp<long>(j["expires_in"].get<long>(), 10, 3600);
  tokens_.put(repository, params->count("scope") ? params->at("scope") : "", token, std::chrono::seconds(lifetime));
  explicit_bzero(token.data(), token.size());
  return true;
}

}  // namespace bastion
