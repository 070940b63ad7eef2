// The rules of just-in-time approval: who may vote, what votes add up to,
// when requests and grants expire.
#include <catch2/catch.hpp>

#include "approvals/approval.h"

using namespace bastion;

namespace {
ApprovalRequest req() {
  ApprovalRequest r;
  r.id = 7;
  r.kind = "command";
  r.requester = "alice";
  r.approvers = {"oncall", "dba-lead"};
  r.created_at = 1000;
  r.expires_at = 1600;
  return r;
}
}  // namespace

TEST_CASE("who may vote", "[approvals]") {
  auto r = req();
  CHECK(vote_refusal(r, "bob", {"ops", "oncall"}, false, 1100) == "");
  CHECK(vote_refusal(r, "alice", {"oncall"}, false, 1100) == "you cannot decide your own request (four eyes)");
  CHECK(vote_refusal(r, "alice", {}, true, 1100) == "you cannot decide your own request (four eyes)");
  CHECK(vote_refusal(r, "dave", {"ops"}, false, 1100) == "you are not an approver of request #7");
  CHECK(vote_refusal(r, "admin:root", {}, true, 1100) == "");
  r.votes.push_back({"bob", "approve", "", 1100});
  CHECK(vote_refusal(r, "bob", {"oncall"}, false, 1200) == "you already decided request #7");
  CHECK(vote_refusal(r, "carol", {"oncall"}, false, 1600) == "request #7 is expired");
  r.state = ApprovalState::used;
  CHECK(vote_refusal(r, "carol", {"oncall"}, false, 1200) == "request #7 is used");
}

TEST_CASE("what votes add up to", "[approvals]") {
  auto r = req();
  CHECK(tally(r) == ApprovalState::pending);
  r.votes.push_back({"bob", "approve", "", 1100});
  CHECK(tally(r) == ApprovalState::approved);
  r.min_approvals = 2;
  CHECK(tally(r) == ApprovalState::pending);
  r.votes.push_back({"bob", "approve", "", 1101});  // the same approver twice is one approval
  CHECK(tally(r) == ApprovalState::pending);
  r.votes.push_back({"carol", "approve", "", 1102});
  CHECK(tally(r) == ApprovalState::approved);
  r.votes.push_back({"dave", "deny", "no", 1103});
  CHECK(tally(r) == ApprovalState::denied);
}

TEST_CASE("requests and grants expire", "[approvals]") {
  auto r = req();
  CHECK(effective_state(r, 1599) == ApprovalState::pending);
  CHECK(effective_state(r, 1600) == ApprovalState::expired);
  r.kind = "access";
  r.state = ApprovalState::approved;
  r.grant_expires_at = 5000;
  CHECK(effective_state(r, 4999) == ApprovalState::approved);
  CHECK(effective_state(r, 5000) == ApprovalState::expired);
  r.state = ApprovalState::revoked;
  CHECK(effective_state(r, 100) == ApprovalState::revoked);
}

TEST_CASE("durations", "[approvals]") {
  CHECK(parse_duration("30m") == 1800);
  CHECK(parse_duration("2h") == 7200);
  CHECK(parse_duration("90") == 90);
  CHECK(parse_duration("1d") == 86400);
  CHECK(parse_duration("") == -1);
  CHECK(parse_duration("5x") == -1);
  CHECK(parse_duration("-5m") == -1);
  CHECK(format_duration(3725) == "1h2m");
  CHECK(format_duration(125) == "2m5s");
  CHECK(format_duration(7) == "7s");
}
