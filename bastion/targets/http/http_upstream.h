// One connection's way upstream: libcurl (TLS verified against the
// target's ca_file or the system store, HTTP/1.1, no redirects followed),
// the held credential added to every request, registry tokens fetched and
// cached when the registry challenges. Bodies stream both ways through
// callbacks with curl's fixed buffers: nothing is held whole. Blocking; it
// runs on the connection's worker thread and stops within a second of
// `stop` being set.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "targets/http/http_settings.h"
#include "targets/http/http_token_cache.h"

typedef void CURL;

namespace bastion {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct ForwardRequest {
  std::string method, target;  // target: "/path?query" (the base path is added)
  HttpHeaders headers;         // what goes upstream as is (hop-by-hop and credentials already dropped)
  bool has_body = false;
  std::optional<uint64_t> content_length;
  std::string repository;      // registry: whose token to use
};

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // The final response's head; false aborts.
  virtual bool head(long status, const HttpHeaders& headers) = 0;
  virtual bool body(std::string_view data) = 0;
};

// Body bytes into buf (at most n): the count, 0 at the body's end, -1 to abort.
using BodySource = std::function<long(char* buf, std::size_t n)>;

struct ForwardResult {
  bool ok = false;
  bool head_sent = false;  // the sink got a head (the client may have part of a response)
  long status = 0;
  std::string error;       // for logs and a 502 body: never a credential
  uint64_t bytes_up = 0, bytes_down = 0;
};

class HttpUpstream {
 public:
  HttpUpstream(const HttpSettings& s, const HttpCredential& c, HttpTokenCache& tokens, const std::atomic<bool>& stop);
  ~HttpUpstream();
  HttpUpstream(const HttpUpstream&) = delete;
  HttpUpstream& operator=(const HttpUpstream&) = delete;

  ForwardResult forward(const ForwardRequest& req, const BodySource& body, ResponseSink& sink);

 private:
  ForwardResult perform(const ForwardRequest& req, const BodySource& body, ResponseSink& sink, bool may_retry,
                        std::string& challenge);
  void common_options(CURL* h, const std::string& url);
  bool fetch_token(const std::string& challenge, const std::string& repository, std::string& error);

  const HttpSettings& s_;
  const HttpCredential& c_;
  HttpTokenCache& tokens_;
  const std::atomic<bool>& stop_;
  CURL* h_ = nullptr;  // one per connection: upstream keep-alive across requests
};

}  // namespace bastion
