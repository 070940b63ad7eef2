// How a command source inside a channel (a database or cluster console)
// submits each command it found: the gate decides it with the policy, writes
// the audit row and the recording marker, and applies the decision's output
// masks to what the command prints until it ends. Implemented by the
// session's channel; a source never sees SSH, and never skips the policy.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "policy/policy.h"

namespace bastion {

struct GateResult {
  Decision decision;  // final: bastion adjustments applied (fail closed on audit errors)
  int64_t command_id = 0;  // audit row, for command_ended
  std::string refusal;     // when !decision.allowed(): why, fit for the user
  // Set when the command is held for a human decision: poll_review() until
  // it is decided. Until then the command must not run.
  int64_t review_id = 0;
};

struct CommandOutcome {
  std::optional<int> status;  // 0 ok, non-zero failed
  std::optional<int64_t> rows;
  int64_t duration_us = 0;
  std::string error;           // "SQLSTATE: message"
  std::string masked_columns;  // comma-separated
  uint64_t bytes_in = 0;   // data the command sent to the target (a file written over sftp)
  uint64_t bytes_out = 0;  // data it got from the target (a file read)
};

class CommandGate {
 public:
  virtual ~CommandGate() = default;
  virtual GateResult submit(const CommandRequest& req) = 0;
  // A command the bastion refuses whatever the policy says: audited and
  // marked like a policy decision, with hook "bastion".
  virtual GateResult refuse(const CommandRequest& req, const std::string& reason) = 0;
  // A held command: nullopt while it waits (the gate shows the status line);
  // then the final result: allowed (a new audit row, masks installed) or
  // refused with the approver's reason, a timeout or a cancellation.
  virtual std::optional<GateResult> poll_review(int64_t review_id) = 0;
  virtual void cancel_review(int64_t review_id) = 0;
  // A request made by a running command (an API request its child process
  // makes): decided, audited and marked like a command, but it installs no
  // output masks and is never held: a review decision is a refusal
  // ("approval required: ..."). Finish it with request_ended().
  virtual GateResult submit_request(const CommandRequest& req) = 0;
  virtual void request_ended(int64_t command_id, const CommandOutcome& outcome) = 0;
  // The command's output is complete: close its masks, finish its audit row.
  virtual void command_ended(int64_t command_id, const CommandOutcome& outcome) = 0;
  // A request with the session's who/where filled in, for `kind`.
  virtual CommandRequest request(const std::string& kind, const std::string& text) const = 0;
  // The key for stable (keyed) hashes in masks.
  virtual const std::string& mask_key() const = 0;
};

}  // namespace bastion
