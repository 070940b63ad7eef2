#include "targets/kubectl/kube_decision_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace bastion {

KubeDecisionQueue::KubeDecisionQueue() : efd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

KubeDecisionQueue::~KubeDecisionQueue() {
  close();
  if (efd_ >= 0) ::close(efd_);
}

void KubeDecisionQueue::wake() {
  if (efd_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(efd_, &one, sizeof one);  // EAGAIN: already readable
}

void KubeDecisionQueue::clear_wake() {
  if (efd_ < 0) return;
  uint64_t v = 0;
  [[maybe_unused]] const ssize_t n = read(efd_, &v, sizeof v);
}

KubeAnswer KubeDecisionQueue::ask(const KubeRequestFacts& facts, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<Pending>();
  p->facts = facts;
  std::unique_lock lock(m_);
  KubeAnswer refused;
  if (closed_ || efd_ < 0) return refused.reason = "the session is ending", refused;
  asks_.push_back(p);
  wake();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!p->answer && !closed_) {
    // Once the session thread took it, the decision is being made: wait for it,
    // so the audit row and what happens agree.
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && !p->taken) break;
  }
  if (p->answer) return *p->answer;
  p->abandoned = true;
  refused.reason = closed_ ? "the session is ending" : "no policy decision in time";
  return refused;
}

void KubeDecisionQueue::ended(int64_t command_id, const CommandOutcome& outcome) {
  if (command_id <= 0) return;
  std::lock_guard lock(m_);
  if (closed_) return;
  ends_.emplace_back(command_id, outcome);
  wake();
}

void KubeDecisionQueue::serve(const Decide& decide, const End& end) {
  clear_wake();
  for (;;) {
    std::shared_ptr<Pending> p;
    std::vector<std::pair<int64_t, CommandOutcome>> ends;
    {
      std::lock_guard lock(m_);
      ends.swap(ends_);
      while (!asks_.empty() && !p) {
        p = asks_.front();
        asks_.pop_front();
        if (p->abandoned) p.reset();
      }
      if (p) p->taken = true;
    }
    for (const auto& [id, o] : ends) end(id, o);
    if (!p) return;
    KubeAnswer a = decide(p->facts);  // outside the lock: the policy may take a while
    {
      std::lock_guard lock(m_);
      p->answer = std::move(a);
    }
    cv_.notify_all();
  }
}

void KubeDecisionQueue::close() {
  {
    std::lock_guard lock(m_);
    closed_ = true;
    asks_.clear();
    ends_.clear();
  }
  cv_.notify_all();
}

}  // namespace bastion
