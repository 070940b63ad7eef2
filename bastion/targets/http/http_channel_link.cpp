#include "targets/http/http_channel_link.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

namespace bastion {

HttpChannelLink::HttpChannelLink() : efd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

HttpChannelLink::~HttpChannelLink() {
  if (efd_ >= 0) ::close(efd_);
}

void HttpChannelLink::wake() {
  const uint64_t one = 1;
  if (efd_ >= 0 && ::write(efd_, &one, sizeof one) < 0) {
  }  // already readable: enough
}

void HttpChannelLink::clear_wake() {
  uint64_t v;
  if (efd_ >= 0 && ::read(efd_, &v, sizeof v) < 0) {
  }  // nothing to clear
}

std::optional<HttpAnswer> HttpChannelLink::ask(const HttpFacts& facts, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(m_);
  if (stopped_) return std::nullopt;
  question_ = facts;
  taken_ = false;
  answer_.reset();
  wake();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!stopped_ && !answer_) {
    if (taken_) cv_.wait(lk);
    else if (cv_.wait_until(lk, deadline) == std::cv_status::timeout && !taken_ && !answer_) {
      question_.reset();  // never taken: refused
      return HttpAnswer{.allowed = false, .reason = "no policy decision in time", .command_id = 0, .masks = {}};
    }
  }
  if (!answer_) return std::nullopt;
  HttpAnswer a = std::move(*answer_);
  answer_.reset();
  return a;
}

void HttpChannelLink::ended(HttpEnded e) {
  std::lock_guard<std::mutex> lk(m_);
  ended_.push_back(std::move(e));
  wake();
}

bool HttpChannelLink::stopping() {
  std::lock_guard<std::mutex> lk(m_);
  return stopped_;
}

std::optional<HttpFacts> HttpChannelLink::take_question() {
  std::lock_guard<std::mutex> lk(m_);
  if (!question_ || taken_) return std::nullopt;
  taken_ = true;
  return *question_;
}

void HttpChannelLink::answer(HttpAnswer a) {
  std::lock_guard<std::mutex> lk(m_);
  if (!question_ || !taken_) return;
  question_.reset();
  answer_ = std::move(a);
  cv_.notify_all();
}

std::vector<HttpEnded> HttpChannelLink::take_ended() {
  std::lock_guard<std::mutex> lk(m_);
  return std::exchange(ended_, {});
}

void HttpChannelLink::stop() {
  std::lock_guard<std::mutex> lk(m_);
  stopped_ = true;
  cv_.notify_all();
}

}  // namespace bastion
