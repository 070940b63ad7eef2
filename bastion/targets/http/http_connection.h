// One client connection of an HTTP target, served on its own thread: reads
// requests from a socketpair end (the tunnel channel relays the client's
// bytes into the other end), asks the session thread for each decision
// (HttpChannelLink), answers refusals itself (403, JSON body; 400 and a
// closed connection for what it will not frame), forwards allowed requests
// upstream (HttpUpstream) and writes the response back, with hop-by-hop
// headers, credentials and challenges removed and masks applied to text.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "targets/http/http_channel_link.h"
#include "targets/http/http_request_stream.h"
#include "targets/http/http_settings.h"
#include "targets/http/http_token_cache.h"
#include "targets/http/http_upstream.h"

namespace bastion {

struct HttpConnectionOptions {
  std::string target_name;
  bool body_only = false;  // exec form: the response body only, no head (one request)
};

class HttpConnection {
 public:
  // Starts serving `fd` (owned from now on).
  HttpConnection(int fd, std::shared_ptr<HttpChannelLink> link, std::shared_ptr<const HttpSettings> settings,
                 std::shared_ptr<const HttpCredential> cred, std::shared_ptr<HttpTokenCache> tokens,
                 HttpConnectionOptions opts);
  // Stops it: the link refuses, the socket closes, the thread is joined.
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

 private:
  void run();
  bool serve_one();  // false: close the connection
  enum class Fill { data, closed, timeout };
  Fill fill(std::chrono::steady_clock::time_point deadline);  // more client bytes into in_
  long read_body(char* buf, std::size_t n);
  bool send_all(std::string_view data);
  void refuse_400(const std::string& why);
  void refuse(long status, const std::string& code, const std::string& message);  // and close

  int fd_;
  std::shared_ptr<HttpChannelLink> link_;
  std::shared_ptr<const HttpSettings> s_;
  std::shared_ptr<const HttpCredential> c_;
  std::shared_ptr<HttpTokenCache> tokens_;
  HttpConnectionOptions opts_;
  std::chrono::steady_clock::time_point opened_;
  bool first_request_ = true;
  std::atomic<bool> stop_{false};
  HttpRequestStream stream_;
  std::string in_;            // client bytes not parsed yet (at most one read's worth)
  std::string body_;          // body bytes parsed, not yet sent upstream
  std::size_t body_off_ = 0;
  bool body_done_ = false, body_failed_ = false, body_malformed_ = false, body_stalled_ = false;
  uint64_t body_bytes_ = 0;
  std::unique_ptr<HttpUpstream> upstream_;
  std::thread thread_;
};

// The JSON body of a refusal: the registry's error format for registries.
std::string http_refusal_body(bool registry, const std::string& code, const std::string& message);
// "1.2 KiB"
std::string human_bytes(uint64_t n);

}  // namespace bastion
