#include "targets/http/http_connection.h"

#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>

#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include "common/base64.h"
#include "common/log.h"
#include "filters/masking_filter.h"
#include "targets/http/http_relay_rules.h"

namespace bastion {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string status_line(long status) {
  const char* reason = http_status_str(static_cast<http_status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + (reason && *reason ? reason : "Status") + "\r\n";
}

// What is written back to the client for one forwarded request.
class ClientResponse : public ResponseSink {
 public:
  ClientResponse(std::function<bool(std::string_view)> send, const std::string& method,
                 const HttpSettings& s, bool keep_alive, bool body_only, const std::vector<MaskRule>& masks,
                 const std::vector<MaskRule>& secrets)
      : send_(std::move(send)), method_(method), s_(s), keep_alive_(keep_alive), body_only_(body_only),
        masks_(masks), secrets_(secrets) {}

  bool head(long status, const HttpHeaders& headers) override {
    status_ = status;
    no_body_ = method_ == "HEAD" || status == 204 || status == 304 || status < 200;
    std::optional<std::string> length;
    std::string type, encoding;
    bool chunked_upstream = false;
    for (const auto& [k, v] : headers) {
      if (same(k, "Content-Length")) length = v;
      if (same(k, "Content-Type")) type = v;
      if (same(k, "Content-Encoding")) encoding = v;
      if (same(k, "Transfer-Encoding")) chunked_upstream = true;
    }
    // curl reads a chunked body whatever Content-Length says (RFC 9112 6.3):
    // that length is not the body's, the client gets it re-chunked.
    if (chunked_upstream && !no_body_) length.reset();
    // A compressed body passes no mask (curl does not decode): refused,
    // whatever the upstream made of "Accept-Encoding: identity".
    const bool masked = http_body_masked(type);
    if (!no_body_ && masked && !encoding.empty() && !same(encoding, "identity")) {
      encoded_text_ = true;
      if (body_only_) return false;
      const std::string body = http_refusal_body(s_.registry, s_.registry ? "UNAVAILABLE" : "bad_gateway",
                                                 "bastion: upstream: a compressed text response cannot be masked");
      send_(status_line(502) + "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body);
      return false;
    }
    if (!masks_.empty() && masked) text_filter_ = std::make_unique<MaskingFilter>(masks_);
    if (masked) secret_filter_ = std::make_unique<MaskingFilter>(secrets_);
    chunked_ = !no_body_ && (text_filter_ || secret_filter_ || !length);
    if (body_only_) return true;
    std::string h = status_line(status);
    MaskingFilter header_masks(masks_), header_secrets(secrets_);
    for (const auto& [k, v0] : headers) {
      if (http_response_header_dropped(k)) continue;
      std::string v = v0;
      if (same(k, "Location")) {  // back through the tunnel, not to the upstream directly
        const std::string base = s_.origin + s_.base_path;
        if (v.rfind(base, 0) == 0 && (v.size() == base.size() || v[base.size()] == '/' || v[base.size()] == '?'))
          v = v.substr(base.size()).empty() ? "/" : v.substr(base.size());
      }
      header_masks.mask(v);
      header_secrets.mask(v);
      h += k + ": " + v + "\r\n";
    }
    if (no_body_ && length) h += "Content-Length: " + *length + "\r\n";
    else if (chunked_) h += "Transfer-Encoding: chunked\r\n";
    else if (!no_body_) h += "Content-Length: " + *length + "\r\n";
    if (!keep_alive_) h += "Connection: close\r\n";
    h += "\r\n";
    return send_(h);
  }

  bool body(std::string_view data) override {
    if (no_body_) return true;
    if (!text_filter_ && !secret_filter_) return emit(data);
    std::string d(data);
    if (text_filter_) text_filter_->filter(Stream::out, d);
    if (secret_filter_) secret_filter_->filter(Stream::out, d);
    return emit(d);
  }

  bool encoded_text() const { return encoded_text_; }

  bool finish() {
    if (no_body_) return true;
    std::string tail;
    if (text_filter_) text_filter_->flush(Stream::out, tail);
    if (secret_filter_) {
      std::string more;
      if (!tail.empty()) secret_filter_->filter(Stream::out, tail);
      secret_filter_->flush(Stream::out, more);
      tail += more;
    }
    if (!tail.empty() && !emit(tail)) return false;
    if (chunked_ && !body_only_) return send_("0\r\n\r\n");
    return true;
  }

 private:
  bool emit(std::string_view d) {
    if (d.empty()) return true;
    if (!chunked_ || body_only_) return send_(d);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", d.size());
    return send_(size) && send_(d) && send_("\r\n");
  }

  std::function<bool(std::string_view)> send_;
  std::string method_;
  const HttpSettings& s_;
  bool keep_alive_, body_only_;
  std::vector<MaskRule> masks_, secrets_;
  std::unique_ptr<MaskingFilter> text_filter_, secret_filter_;
  long status_ = 0;
  bool no_body_ = false, chunked_ = false, encoded_text_ = false;
};

// Literal patterns for the held secrets: should an upstream echo the
// request (a debugging endpoint), its text responses still carry none.
std::vector<MaskRule> secret_rules(const HttpCredential& c) {
  std::vector<MaskRule> r;
  auto lit = [&](const std::string& s) {
    if (s.size() >= 4) r.push_back({.pattern = RE2::QuoteMeta(s), .replacement = "****"});
  };
  lit(c.basic_password.bytes);
  if (!c.basic_user.empty()) lit(base64_encode(c.basic_user + ":" + c.basic_password.bytes));
  lit(c.bearer.bytes);
  return r;
}

}  // namespace

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else if (n < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  else if (n < 1024ull * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024 * 1024));
  else std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(n) / (1024.0 * 1024 * 1024));
  return buf;
}

std::string http_refusal_body(bool registry, const std::string& code, const std::string& message) {
  nlohmann::json j;
  if (registry) j = {{"errors", nlohmann::json::array({{{"code", code}, {"message", message}}})}};
  else j = {{"error", code}, {"message", message}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpConnection::HttpConnection(int fd, std::shared_ptr<HttpChannelLink> link,
                               std::shared_ptr<const HttpSettings> settings, std::shared_ptr<const HttpCredential> cred,
                               std::shared_ptr<HttpTokenCache> tokens, HttpConnectionOptions opts)
    : fd_(fd), link_(std::move(link)), s_(std::move(settings)), c_(std::move(cred)), tokens_(std::move(tokens)),
      opts_(std::move(opts)), opened_(std::chrono::steady_clock::now()) {
  upstream_ = std::make_unique<HttpUpstream>(*s_, *c_, *tokens_, stop_);
  // A client that stops reading its response holds this thread in send()
  // no longer than idle_timeout without progress (SO_SNDTIMEO: a send that
  // moves nothing for that long fails with EAGAIN).
  const timeval idle{.tv_sec = s_->idle_timeout, .tv_usec = 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof idle);
  thread_ = std::thread([this] { run(); });
}

HttpConnection::~HttpConnection() {
  stop_ = true;
  link_->stop();
  ::shutdown(fd_, SHUT_RDWR);  // wakes a blocked read or write
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void HttpConnection::run() {
  while (!stop_ && serve_one()) {
  }
  ::shutdown(fd_, SHUT_RDWR);  // the executor sees the end
}

HttpConnection::Fill HttpConnection::fill(std::chrono::steady_clock::time_point deadline) {
  char buf[kReadChunk];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Fill::timeout;
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), 60000)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Fill::closed;
    if (r == 0) continue;  // the loop's top decides whether the deadline passed
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) return in_.append(buf, static_cast<std::size_t>(n)), Fill::data;
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    return Fill::closed;
  }
}

bool HttpConnection::send_all(std::string_view d) {
  while (!d.empty()) {
    const ssize_t n = ::send(fd_, d.data(), d.size(), MSG_NOSIGNAL);
    if (n > 0) {
      d.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

long HttpConnection::read_body(char* buf, std::size_t n) {
  for (;;) {
    if (body_off_ < body_.size()) {
      const std::size_t k = std::min(n, body_.size() - body_off_);
      std::memcpy(buf, body_.data() + body_off_, k);
      body_off_ += k;
      body_bytes_ += k;
      return static_cast<long>(k);
    }
    if (body_done_) return 0;
    if (body_failed_) return -1;
    std::size_t used = 0;
    const auto e = stream_.feed(in_, used);
    in_.erase(0, used);
    switch (e) {
      case HttpRequestStream::Event::body:
        body_ = stream_.take_body();
        body_off_ = 0;
        continue;
      case HttpRequestStream::Event::end:
        body_done_ = true;
        return 0;
      case HttpRequestStream::Event::need_more:
        // A body that stalls holds the worker no longer than idle_timeout.
        switch (fill(std::chrono::steady_clock::now() + std::chrono::seconds(s_->idle_timeout))) {
          case Fill::data: continue;
          case Fill::timeout: body_stalled_ = true; break;
          case Fill::closed: break;
        }
        body_failed_ = true;
        return -1;
      default:
        body_failed_ = body_malformed_ = true;
        return -1;
    }
  }
}

void HttpConnection::refuse_400(const std::string& why) {
  refuse(400, s_->registry ? "UNSUPPORTED" : "bad_request", "bastion: bad request: " + why);
}

void HttpConnection::refuse(long status, const std::string& code, const std::string& message) {
  if (opts_.body_only) return;
  const std::string body = http_refusal_body(s_->registry, code, message);
  send_all(status_line(status) + "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body);
}

bool HttpConnection::serve_one() {
  using Clock = std::chrono::steady_clock;
  // The head must be whole request_head_timeout after the connection opened
  // (the first request) or after its first byte; a kept-alive connection
  // waits idle_timeout for that byte. Then it closes: a slow or silent
  // client cannot hold this thread.
  std::optional<Clock::time_point> head_deadline;
  if (first_request_) head_deadline = opened_ + std::chrono::seconds(s_->request_head_timeout);
  first_request_ = false;
  const auto idle_deadline = Clock::now() + std::chrono::seconds(s_->idle_timeout);
  HttpRequestStream::Event e;
  for (;;) {
    const bool started = !in_.empty() || !stream_.at_request_boundary();
    if (started && !head_deadline) head_deadline = Clock::now() + std::chrono::seconds(s_->request_head_timeout);
    std::size_t used = 0;
    e = stream_.feed(in_, used);
    in_.erase(0, used);
    if (e != HttpRequestStream::Event::need_more) break;
    const Fill got = fill(head_deadline ? *head_deadline : idle_deadline);
    if (got == Fill::timeout) {
      if (!in_.empty() || !stream_.at_request_boundary()) {
        log_info("http target: request head timed out", {{"target", opts_.target_name}});
        refuse(408, s_->registry ? "UNSUPPORTED" : "request_timeout", "bastion: request timeout: the request head was not whole within " +
                                           std::to_string(s_->request_head_timeout) + " s (request_head_timeout)");
      }
      return false;
    }
    if (got == Fill::closed) {
      if (!stream_.at_request_boundary()) log_info("http target: client closed inside a request", {{"target", opts_.target_name}});
      return false;
    }
  }
  if (e != HttpRequestStream::Event::head) {
    refuse_400(e == HttpRequestStream::Event::error ? stream_.error() : "unexpected request framing");
    return false;
  }
  const HttpRequestHead h = stream_.head();
  body_.clear();
  body_off_ = 0;
  body_done_ = body_failed_ = body_malformed_ = body_stalled_ = false;
  body_bytes_ = 0;

  HttpFacts f;
  f.method = h.method;
  split_target(h.target, f.path, f.query);
  for (const auto& [k, v] : h.headers) {
    const std::string n = lower(k);
    if (http_header_is_credential(n)) continue;
    auto& slot = f.headers[n];
    slot = slot.empty() ? v : slot + ", " + v;
  }
  if (s_->registry) f.registry = registry_facts(f.method, f.path);
  registry_mount_facts(f);
  if (std::string why = http_path_problem(f.path); !why.empty() || !(why = http_query_problem(f.query)).empty()) {
    refuse_400(why);
    return false;
  }
  const auto answer = link_->ask(f, std::chrono::seconds(s_->decision_timeout));
  if (!answer) return false;
  const bool keep = h.keep_alive && !opts_.body_only;
  if (!answer->allowed) {
    // A client that waits for 100-continue sends no body: its framing is
    // unknown from here, so the connection ends.
    const bool close_after = !keep || (h.has_body && h.expect_continue);
    if (!opts_.body_only) {
      const std::string body = http_refusal_body(s_->registry, s_->registry ? "DENIED" : "denied",
                                                 "bastion: denied: " + answer->reason);
      if (!send_all(status_line(403) + "Content-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n" + (close_after ? "Connection: close\r\n" : "") + "\r\n" +
                    body))
        return false;
    }
    if (close_after) return false;
    char sink[kReadChunk];
    long n;
    while ((n = read_body(sink, sizeof sink)) > 0) {
    }
    return n == 0;
  }
  if (h.expect_continue && h.has_body && !send_all("HTTP/1.1 100 Continue\r\n\r\n")) return false;

  ForwardRequest fr;
  fr.method = h.method;
  fr.target = h.target;
  fr.has_body = h.has_body;
  fr.content_length = h.content_length;
  if (f.registry) fr.repository = f.registry->repository;
  for (const auto& [k, v] : h.headers)
    if (!http_request_header_dropped(k)) fr.headers.emplace_back(k, v);

  const auto started = std::chrono::steady_clock::now();
  ClientResponse resp([this](std::string_view d) { return send_all(d); }, h.method, *s_, keep,
                      opts_.body_only, answer->masks, secret_rules(*c_));
  ForwardResult r = upstream_->forward(fr, [this](char* b, std::size_t n) { return read_body(b, n); }, resp);
  bool ok = r.ok && resp.finish();
  if (resp.encoded_text()) {
    r.status = 502;
    r.error = "a compressed text response cannot be masked";
  }
  if (!r.ok && !r.head_sent && body_malformed_) {
    // The body turned out malformed as it streamed: the upstream's request
    // was cut, the client hears why.
    refuse_400(stream_.error());
    r.status = 400;
  } else if (!r.ok && !r.head_sent && body_stalled_) {
    refuse(408, s_->registry ? "UNSUPPORTED" : "request_timeout",
           "bastion: request timeout: no body byte for " + std::to_string(s_->idle_timeout) + " s (idle_timeout)");
    r.status = 408;
    r.error = "the request body stalled";
  } else if (!r.ok && !r.head_sent) {
    log_info("http target: upstream request failed", {{"target", opts_.target_name}, {"error", r.error}});
    const std::string body = http_refusal_body(s_->registry, s_->registry ? "UNAVAILABLE" : "bad_gateway",
                                               "bastion: upstream: " + r.error);
    if (!opts_.body_only)
      send_all(status_line(502) + "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body);
    r.status = 502;
  }
  // A request whose body the upstream did not take whole leaves its framing unknown.
  if (ok && !h.has_body) ok = read_body(nullptr, 0) == 0;
  ok = ok && body_done_;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  HttpEnded end;
  end.command_id = answer->command_id;
  end.outcome.status = static_cast<int>(r.status);
  end.outcome.bytes_in = body_bytes_;
  end.outcome.bytes_out = r.bytes_down;
  end.outcome.duration_us = us.count();
  if (!r.ok) end.outcome.error = r.error;
  end.summary = http_request_text(f) + " -> " + std::to_string(r.status) + " (" + human_bytes(body_bytes_) + " in, " +
                human_bytes(r.bytes_down) + " out, " + std::to_string(us.count() / 1000) + " ms)";
  link_->ended(std::move(end));
  return ok && keep;
}

}  // namespace bastion
