// The commands of the reserved targets, shared by the SSH side
// (`ssh approvals@bastion approve 12`, `ssh access@bastion request db --for 30m`)
// and by `bastionctl approvals` (an admin on the bastion host).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "approvals/approval_store.h"
#include "config/config.h"
#include "policy/policy.h"

namespace bastion {

struct ApprovalActor {
  std::string identity;                 // certificate key ID, or "admin:NAME"
  std::vector<std::string> principals;
  bool admin = false;                   // bastionctl on the bastion host
};

class ApprovalCommands {
 public:
  // `changed` is called after every change (wakes waiting sessions).
  ApprovalCommands(ApprovalStore& store, const Config& cfg, ApprovalActor actor, std::function<void()> changed,
                   std::function<void(const ApprovalRequest&, const std::string&)> event = nullptr)
      : store_(store), cfg_(cfg), actor_(std::move(actor)), changed_(std::move(changed)), event_(std::move(event)) {}

  // Lets the policy refine an access request before it is created: a deny
  // refuses it, a review names its approvers (and min_approvals).
  void set_refine(std::function<std::optional<Decision>(const ApprovalRequest&)> f) { refine_ = std::move(f); }

  // `which`: "approvals" or "access". Exit status 0 ok, 1 refused/failed, 2 usage.
  int run(const std::string& which, const std::vector<std::string>& argv, std::string& out, std::string& err);

  // Requests newer than `after` that this actor may decide now, oldest
  // first, one line each ("bastion: new request #12  pending ... ; approve 12
  // or deny 12 --reason ..."); `after` becomes the newest request id seen, so
  // a request that is not theirs is never announced later either.
  // Reads only requests above `after` (ApprovalStore::pending_after).
  std::vector<std::string> arrivals(int64_t& after, int64_t now);
  // False when nothing could come to this actor to decide: no target names
  // one of its principals an approver and no policy could (a review may
  // name anyone), so its console need not poll for arrivals.
  bool may_approve_something() const;

 private:
  // A line for a request as of `now`, or "" to leave it out.
  using RequestLine = std::function<std::string(const ApprovalRequest&, int64_t now)>;
  // The lines of the requests of `requester` ("" for everyone's), or `none`.
  int list(const std::string& requester, const RequestLine& line, const char* none, std::string& out, std::string& err);
  int list_pending(std::string& out, std::string& err);
  int show(int64_t id, std::string& out, std::string& err);
  enum class Vote { approve, deny };
  int vote(int64_t id, Vote decision, const std::string& text, std::string& out, std::string& err);
  int request_access(const std::vector<std::string>& argv, std::string& out, std::string& err);
  int list_mine(std::string& out, std::string& err);
  int revoke(int64_t id, std::string& out, std::string& err);
  bool may_see(const ApprovalRequest& r) const;

  ApprovalStore& store_;
  const Config& cfg_;
  ApprovalActor actor_;
  std::function<void()> changed_;
  std::function<void(const ApprovalRequest&, const std::string&)> event_;
  std::function<std::optional<Decision>(const ApprovalRequest&)> refine_;
};

// One line about a request, for lists and status messages.
std::string describe_request(const ApprovalRequest& r, int64_t now);

}  // namespace bastion
