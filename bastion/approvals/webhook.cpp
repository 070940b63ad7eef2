#include "approvals/webhook.h"

#include <chrono>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "approvals/webhook_template.h"
#include "common/log.h"
#include "common/time_util.h"

namespace bastion {
namespace {
constexpr std::size_t kMaxQueue = 1000;
size_t discard(char*, size_t size, size_t n, void*) { return size * n; }
}  // namespace

Webhook::Webhook(std::string url, std::string text, int attempts, int first_backoff_ms)
    : url_(std::move(url)), text_(std::move(text)), attempts_(attempts), backoff_ms_(first_backoff_ms) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  thread_ = std::thread([this] { run(); });
}

Webhook::~Webhook() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  curl_global_cleanup();
}

std::string Webhook::payload(const ApprovalRequest& r, const std::string& event) {
  nlohmann::json j = {{"event", event},
                      {"at", iso8601_now()},
                      {"request",
                       {{"id", r.id}, {"kind", r.kind}, {"requester", r.requester}, {"target", r.target},
                        {"command", r.command_text}, {"reason", r.reason}, {"approvers", r.approvers},
                        {"min_approvals", r.min_approvals}, {"state", approval_state_name(r.state)}, {"decided_by", r.decided_by},
                        {"deny_reason", r.deny_reason}, {"expires_at", iso8601(r.expires_at)}}}};
  if (r.kind == "access") {
    j["request"]["grant_seconds"] = r.grant_ttl;
    if (r.grant_expires_at) j["request"]["grant_expires_at"] = iso8601(r.grant_expires_at);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Webhook::chat_payload(const std::string& text, const ApprovalRequest& r, const std::string& event) {
  const nlohmann::json j = {{"text", webhook_text(text, r, event)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Webhook::post(const ApprovalRequest& r, const std::string& event) {
  std::lock_guard<std::mutex> g(mu_);
  if (queue_.size() >= kMaxQueue) {
    queue_.pop_front();
    log_warn("webhook queue full: oldest event dropped", {{"url", url_}});
  }
  queue_.push_back(text_.empty() ? payload(r, event) : chat_payload(text_, r, event));
  cv_.notify_one();
}

bool Webhook::send(const std::string& body, std::string& error) {
  CURL* c = curl_easy_init();
  if (!c) return error = "curl_easy_init failed", false;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &discard);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) return error = curl_easy_strerror(rc), false;
  if (status < 200 || status >= 300) return error = "HTTP " + std::to_string(status), false;
  return true;
}

void Webhook::run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping with nothing left
    const std::string body = queue_.front();
    queue_.pop_front();
    lk.unlock();
    std::string err;
    bool ok = false;
    int delay = backoff_ms_;
    for (int attempt = 1; attempt <= attempts_ && !ok; ++attempt) {
      ok = send(body, err);
      if (!ok) {
        log_warn("webhook delivery failed", {{"url", url_}, {"attempt", std::to_string(attempt)}, {"error", err}});
        std::unique_lock<std::mutex> w(mu_);
        if (cv_.wait_for(w, std::chrono::milliseconds(delay), [this] { return stop_; })) break;
        delay *= 2;
      }
    }
    if (!ok) log_error("webhook event dropped after retries", {{"url", url_}, {"error", err}});
    lk.lock();
  }
}

}  // namespace bastion
