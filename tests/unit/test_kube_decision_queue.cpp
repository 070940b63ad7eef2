// The API proxy's hand-off to the session thread: answers come back, and
// no answer (nobody serving, or the session ending) is a refusal.
#include <catch2/catch.hpp>

#include <poll.h>

#include <thread>

#include "targets/kubectl/kube_decision_queue.h"

using namespace bastion;
using namespace std::chrono_literals;

namespace {
KubeRequestFacts facts(const char* verb) {
  KubeRequestFacts f;
  f.verb = verb;
  return f;
}
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}
}  // namespace

TEST_CASE("no answer in time is a refusal, and is not decided later", "[kube_queue]") {
  KubeDecisionQueue q;
  const KubeAnswer a = q.ask(facts("delete"), 50ms);
  CHECK_FALSE(a.allowed);
  CHECK(a.reason == "no policy decision in time");
  int decided = 0;
  q.serve([&](const KubeRequestFacts&) { return ++decided, KubeAnswer{true, false, "", 1}; },
          [](int64_t, const CommandOutcome&) {});
  CHECK(decided == 0);  // the abandoned request never gets an audit row saying "allow"
}

TEST_CASE("the session thread answers; the wake-up fd says when to", "[kube_queue]") {
  KubeDecisionQueue q;
  CHECK_FALSE(readable(q.wake_fd()));
  KubeAnswer got;
  std::thread proxy([&] { got = q.ask(facts("list"), 5s); });
  while (!readable(q.wake_fd())) std::this_thread::sleep_for(1ms);
  std::vector<std::string> seen;
  q.serve([&](const KubeRequestFacts& f) { return seen.push_back(f.verb), KubeAnswer{true, true, "", 42}; },
          [](int64_t, const CommandOutcome&) {});
  proxy.join();
  CHECK(seen == std::vector<std::string>{"list"});
  CHECK(got.allowed);
  CHECK(got.mask_secrets);
  CHECK(got.command_id == 42);
  CHECK_FALSE(readable(q.wake_fd()));
  // Ended rows are finished on the session thread too.
  q.ended(42, CommandOutcome{0, std::nullopt, 0, "", "", 0, 0});
  CHECK(readable(q.wake_fd()));
  std::vector<int64_t> ended;
  q.serve([](const KubeRequestFacts&) { return KubeAnswer{}; },
          [&](int64_t id, const CommandOutcome&) { ended.push_back(id); });
  CHECK(ended == std::vector<int64_t>{42});
}

TEST_CASE("a session that ends refuses waiting and later requests", "[kube_queue]") {
  KubeDecisionQueue q;
  KubeAnswer got;
  std::thread proxy([&] { got = q.ask(facts("get"), 10s); });
  while (!readable(q.wake_fd())) std::this_thread::sleep_for(1ms);
  q.close();
  proxy.join();
  CHECK_FALSE(got.allowed);
  CHECK(got.reason == "the session is ending");
  CHECK(q.ask(facts("get"), 10s).reason == "the session is ending");
}
