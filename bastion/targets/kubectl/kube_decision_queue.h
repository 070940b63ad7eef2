// How the API proxy's threads ask the session thread for a decision: the
// CommandGate (policy, audit, recording markers) belongs to the session
// thread, so a proxy thread queues the request, wakes the session loop
// through an eventfd, and waits. No answer in time, or a session that ends,
// is a refusal (fail closed).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/command_gate.h"
#include "policy/policy.h"
#include "targets/kubectl/kubectl_facts.h"

namespace bastion {

struct KubeAnswer {
  bool allowed = false;
  bool mask_secrets = false;  // the decision masks: Secret values are replaced in responses
  std::string reason;         // refused: why, for the Status message
  int64_t command_id = 0;     // the audit row, finished by ended()
};

class KubeDecisionQueue {
 public:
  KubeDecisionQueue();
  ~KubeDecisionQueue();
  KubeDecisionQueue(const KubeDecisionQueue&) = delete;
  KubeDecisionQueue& operator=(const KubeDecisionQueue&) = delete;

  int wake_fd() const { return efd_; }  // readable while something waits for the session thread
  void clear_wake();

  // Proxy threads.
  KubeAnswer ask(const KubeRequestFacts& facts, std::chrono::milliseconds timeout);
  void ended(int64_t command_id, const CommandOutcome& outcome);

  // The session thread: decide everything queued, finish ended rows.
  using Decide = std::function<KubeAnswer(const KubeRequestFacts&)>;
  using End = std::function<void(int64_t, const CommandOutcome&)>;
  void serve(const Decide& decide, const End& end);

  // The session is over: every waiting and later ask is refused.
  void close();

 private:
  struct Pending {
    KubeRequestFacts facts;
    std::optional<KubeAnswer> answer;
    bool taken = false, abandoned = false;
  };
  void wake();

  int efd_ = -1;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Pending>> asks_;
  std::vector<std::pair<int64_t, CommandOutcome>> ends_;
  bool closed_ = false;
};

}  // namespace bastion
