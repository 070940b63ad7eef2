// A command the gate holds for a human decision (GateResult::review_id):
// polled at each step until it is decided; Ctrl-C withdraws it. Until then
// the command must not run. Shared by every console that submits commands.
#pragma once
#include <optional>

#include "policy/command_gate.h"

namespace bastion {

class HeldCommand {
 public:
  HeldCommand(CommandGate& gate, GateResult held) : gate_(&gate), held_(std::move(held)) {}

  int64_t review_id() const { return held_.review_id; }
  // The user withdrew it (Ctrl-C): the next poll() refuses it.
  void cancel();
  // The channel ends while it waits: withdraw the request.
  void withdraw() { gate_->cancel_review(held_.review_id); }
  // nullopt while it waits; then the final result. A refusal keeps the held
  // audit row (command_id) so that the command's end finishes that row.
  std::optional<GateResult> poll();

 private:
  CommandGate* gate_;
  GateResult held_;
  bool cancelled_ = false;
};

}  // namespace bastion
