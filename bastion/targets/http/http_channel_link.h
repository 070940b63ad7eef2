// How one connection's worker thread asks the session thread for decisions:
// the CommandGate (policy, audit, recording) belongs to the session thread,
// so the worker posts the request's facts, wakes the session loop through
// an eventfd, and waits. No answer before the decision timeout (while no
// one took the question), or a channel that ends, is a refusal: fail
// closed. A question taken (a review may hold it for long) waits until
// answered or stopped.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "policy/command_gate.h"
#include "policy/policy.h"
#include "targets/http/http_facts.h"

namespace bastion {

struct HttpAnswer {
  bool allowed = false;
  std::string reason;          // refused: why (for the 403 body)
  int64_t command_id = 0;      // the audit row the worker's ended() finishes
  std::vector<MaskRule> masks; // the decision masks text responses
};

// One request served (allowed): its row's end and the recording's line.
struct HttpEnded {
  int64_t command_id = 0;
  CommandOutcome outcome;
  std::string summary;  // "PUT /v2/app/manifests/1.2 -> 201 (1.2 KiB in, 0 B out, 12 ms)"
};

class HttpChannelLink {
 public:
  HttpChannelLink();
  ~HttpChannelLink();
  HttpChannelLink(const HttpChannelLink&) = delete;
  HttpChannelLink& operator=(const HttpChannelLink&) = delete;

  int wake_fd() const { return efd_; }
  void clear_wake();

  // Worker thread. nullopt: the channel is ending (drop the connection).
  std::optional<HttpAnswer> ask(const HttpFacts& facts, std::chrono::milliseconds decision_timeout);
  void ended(HttpEnded e);
  bool stopping();

  // Session thread.
  std::optional<HttpFacts> take_question();
  void answer(HttpAnswer a);
  std::vector<HttpEnded> take_ended();
  void stop();

 private:
  void wake();

  int efd_ = -1;
  std::mutex m_;
  std::condition_variable cv_;
  std::optional<HttpFacts> question_;
  bool taken_ = false;
  std::optional<HttpAnswer> answer_;
  std::vector<HttpEnded> ended_;
  bool stopped_ = false;
};

}  // namespace bastion
