// Tells a chat tool (or anything) about approval requests: an HTTP POST of
// JSON per event (the event itself, or a chat message from a template), from a background thread with a bounded queue, retried
// with backoff. Never blocks a session; failures are logged.
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "approvals/approval.h"

namespace bastion {

class Webhook {
 public:
  // `text`: a webhook_text template (webhook_template.h), or "" for the JSON event.
  explicit Webhook(std::string url, std::string text = "", int attempts = 5, int first_backoff_ms = 500);
  ~Webhook();
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  // event: created | approved | denied | expired | cancelled | revoked
  void post(const ApprovalRequest& r, const std::string& event);
  static std::string payload(const ApprovalRequest& r, const std::string& event);
  // {"text": "<the template expanded>"}: what chat tools' incoming webhooks post.
  static std::string chat_payload(const std::string& text, const ApprovalRequest& r, const std::string& event);

 private:
  void run();
  bool send(const std::string& body, std::string& error);

  std::string url_;
  std::string text_;
  int attempts_, backoff_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace bastion
