// PendingApproval against the real store: outcomes, the one cancel path
// (store, webhook, recording marker), and the status line the requester sees.
#include <catch2/catch.hpp>

#include "approvals/pending_approval.h"
#include "audit/sqlite_audit_store.h"
#include "test_util.h"

using namespace bastion;

namespace {

constexpr int64_t kNow = 1'800'000'000;

struct Fixture {
  testutil::TempDir dir;
  std::unique_ptr<SqliteAuditStore> store;
  uint64_t version = 0;
  std::vector<std::pair<int64_t, std::string>> hooks;  // request id, event
  std::vector<std::string> markers;

  Fixture() {
    std::string err;
    store = SqliteAuditStore::open(dir / "audit.db", err);
    REQUIRE(store);
  }
  ApprovalLinks links() {
    return {.store = store.get(),
            .version = [this] { return version; },
            .changed = [this] { ++version; },
            .webhook = [this](const ApprovalRequest& r, const std::string& e) { hooks.emplace_back(r.id, e); },
            .marker = [this](const std::string& m) { markers.push_back(m); }};
  }
  std::unique_ptr<PendingApproval> create(std::vector<std::string> approvers = {"oncall", "ops"}) {
    ApprovalRequest r = request(std::move(approvers));
    std::string refusal;
    auto p = PendingApproval::create(links(), r, refusal);
    if (!p) markers.push_back("refused: " + refusal);
    return p;
  }
  static ApprovalRequest request(std::vector<std::string> approvers = {"oncall", "ops"}) {
    ApprovalRequest r;
    r.kind = "command";
    r.session_id = "s1";
    r.requester = "alice";
    r.target = "web1";
    r.command_kind = "exec";
    r.command_text = "echo held";
    r.reason = "held\x1b[2K";
    r.approvers = std::move(approvers);
    r.created_at = kNow;
    r.expires_at = kNow + 30;
    return r;
  }
  std::string state(int64_t id) {
    std::string err;
    return approval_state_name(store->request(id, err)->state);
  }
  void approve(int64_t id, const std::string& by) {
    std::string err;
    REQUIRE(store->add_vote(id, ApprovalVote{by, "approve", "", kNow + 1}, err));
    REQUIRE(store->transition(id, ApprovalState::pending, ApprovalState::approved, kNow + 1, by, "", 0, err));
    ++version;  // as ServerContext::approvals_changed()
  }
};

}  // namespace

TEST_CASE("pending approval: created, approved once, then spent", "[approvals]") {
  Fixture f;
  auto p = f.create();
  REQUIRE(p);
  const std::string id = std::to_string(p->id());
  CHECK(f.hooks == std::vector<std::pair<int64_t, std::string>>{{p->id(), "created"}});
  CHECK(f.markers == std::vector<std::string>{"approval requested: #" + id});
  CHECK(p->poll(kNow) == ApprovalOutcome::pending);
  f.approve(p->id(), "bob");
  CHECK(p->poll(kNow + 1) == ApprovalOutcome::approved);
  CHECK(f.state(p->id()) == "used");
  CHECK(p->voters() == "bob");
  CHECK(f.markers.back() == "approval approved: #" + id);

  // Someone else consumed the approval first: it does not run twice.
  auto q = f.create();
  f.approve(q->id(), "carol");
  std::string err;
  REQUIRE(f.store->transition(q->id(), ApprovalState::approved, ApprovalState::used, kNow + 1, "carol", "", 0, err));
  CHECK(q->poll(kNow + 1) == ApprovalOutcome::used);
  CHECK(q->refusal(ApprovalOutcome::used) == "used");
}

namespace {
// Another consumer wins between reading "approved" and the compare-and-set.
class RacingStore : public ApprovalStore {
 public:
  explicit RacingStore(ApprovalStore& s) : s_(s) {}
  bool create_request(ApprovalRequest& r, std::string& e) override { return s_.create_request(r, e); }
  std::optional<ApprovalRequest> request(int64_t id, std::string& e) override {
    auto r = s_.request(id, e);
    s_.transition(id, ApprovalState::approved, ApprovalState::used, kNow + 1, "other", "", 0, e);
    return r;
  }
  std::vector<ApprovalRequest> requests(const std::string& who, std::string& e) override { return s_.requests(who, e); }
  bool add_vote(int64_t id, const ApprovalVote& v, std::string& e) override { return s_.add_vote(id, v, e); }
  bool transition(int64_t id, ApprovalState from, ApprovalState to, int64_t at, const std::string& by,
                  const std::string& reason, int64_t grant_expires_at, std::string& e) override {
    return s_.transition(id, from, to, at, by, reason, grant_expires_at, e);
  }
  std::optional<ApprovalRequest> active_grant(const std::string& who, const std::string& target, int64_t now,
                                              std::string& e) override {
    return s_.active_grant(who, target, now, e);
  }

 private:
  ApprovalStore& s_;
};
}  // namespace

TEST_CASE("pending approval: an approval consumed elsewhere first is reused, not run", "[approvals]") {
  Fixture f;
  RacingStore racing(*f.store);
  ApprovalLinks links = f.links();
  links.store = &racing;
  ApprovalRequest r{.id = 0, .kind = "command", .session_id = "s1", .channel = 0, .requester = "alice",
                    .target = "web1", .command_kind = "exec", .command_text = "echo held", .reason = "held",
                    .approvers = {"oncall"}, .min_approvals = 1, .created_at = kNow, .expires_at = kNow + 30,
                    .state = ApprovalState::pending, .decided_at = 0, .decided_by = "", .deny_reason = "", .grant_ttl = 0,
                    .grant_expires_at = 0, .votes = {}};
  std::string refusal;
  auto p = PendingApproval::create(links, r, refusal);
  REQUIRE(p);
  f.approve(p->id(), "bob");
  const auto markers = f.markers.size();
  CHECK(p->poll(kNow + 1) == ApprovalOutcome::reused);
  CHECK(f.markers.size() == markers);  // as before: a reuse is refused without a marker
  CHECK(p->refusal(ApprovalOutcome::reused) == "was already used");
}

TEST_CASE("pending approval: nobody may approve it", "[approvals]") {
  Fixture f;
  CHECK_FALSE(f.create({}));
  CHECK(f.markers == std::vector<std::string>{"refused: approval required (held\x1b[2K) but nobody may approve it here"});
  CHECK(f.hooks.empty());
}

TEST_CASE("pending approval: denied and expired", "[approvals]") {
  Fixture f;
  auto p = f.create();
  std::string err;
  REQUIRE(f.store->transition(p->id(), ApprovalState::pending, ApprovalState::denied, kNow + 2, "bob", "not now", 0, err));
  ++f.version;
  CHECK(p->poll(kNow + 2) == ApprovalOutcome::denied);
  CHECK(p->refusal(ApprovalOutcome::denied) == "denied by bob: not now");

  auto q = f.create();
  // No decision in this process: the store is read again at the deadline.
  CHECK(q->poll(kNow) == ApprovalOutcome::pending);
  CHECK(q->poll(kNow + 30) == ApprovalOutcome::expired);
  CHECK(f.state(q->id()) == "expired");
  CHECK(f.hooks.back() == std::make_pair(q->id(), std::string("expired")));
  CHECK(f.markers.back() == "approval expired: #" + std::to_string(q->id()));
  CHECK(q->refusal(ApprovalOutcome::expired) == "timed out waiting for approval");
}

TEST_CASE("pending approval: every cancel tells the store, the webhook and the recording", "[approvals]") {
  Fixture f;
  auto p = f.create();
  p->cancel("the requester left", kNow + 3);
  std::string err;
  const auto r = f.store->request(p->id(), err);
  CHECK(r->state == ApprovalState::cancelled);
  CHECK(r->deny_reason == "the requester left");
  CHECK(r->decided_by == "alice");
  CHECK(f.hooks.back() == std::make_pair(p->id(), std::string("cancelled")));
  CHECK(f.markers.back() == "approval cancelled: #" + std::to_string(p->id()));
  CHECK(f.version == 2);  // created, cancelled
}

TEST_CASE("pending approval: a cancel after the approval says approved, not cancelled", "[approvals]") {
  // Ctrl-C after an approver approved: the command does not run, the store
  // keeps "approved", so the webhook must not announce "cancelled".
  Fixture f;
  auto p = f.create();
  std::string err;
  REQUIRE(f.store->transition(p->id(), ApprovalState::pending, ApprovalState::approved, kNow + 1, "bob", "", 0, err));
  const size_t hooks = f.hooks.size();
  CHECK(p->cancel("cancelled by the requester", kNow + 2) == ApprovalOutcome::approved);
  CHECK(f.state(p->id()) == "approved");
  CHECK(f.hooks.size() == hooks);
  CHECK(f.markers.back() == "approval not cancelled: #" + std::to_string(p->id()) + " is approved");
  CHECK(p->request().state == ApprovalState::approved);
  // A pending one is cancelled, and says so.
  auto q = f.create();
  CHECK(q->cancel("cancelled by the requester", kNow + 2) == ApprovalOutcome::cancelled);
  CHECK(f.hooks.back() == std::make_pair(q->id(), std::string("cancelled")));
}

TEST_CASE("pending approval: the status line, once a second, escaped", "[approvals]") {
  Fixture f;
  auto p = f.create();
  CHECK(p->status_due(kNow));
  CHECK_FALSE(p->status_due(kNow));
  CHECK(p->status_due(kNow + 1));
  CHECK(p->status_line(kNow + 65) == "bastion: request #" + std::to_string(p->id()) +
                                         " waits for approval by oncall, ops (held\\x1b[2K), 1m5s so far, "
                                         "times out at 08:00:30Z; Ctrl-C cancels it, nothing runs");
}

TEST_CASE("pending approval: the status line says how many approvals and when it times out", "[approvals]") {
  Fixture f;
  ApprovalRequest r = f.request();
  r.min_approvals = 2;
  r.expires_at = kNow + 86400;  // tomorrow: the date too
  std::string refusal;
  auto p = PendingApproval::create(f.links(), r, refusal);
  REQUIRE(p);
  CHECK(p->status_line(kNow + 5) == "bastion: request #" + std::to_string(p->id()) +
                                        " waits for 2 approvals by oncall, ops (held\\x1b[2K), 5s so far, "
                                        "times out at 2027-01-16 08:00:00Z; Ctrl-C cancels it, nothing runs");
}
