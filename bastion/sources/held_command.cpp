#include "sources/held_command.h"

#include <string>

namespace bastion {

void HeldCommand::cancel() {
  if (cancelled_) return;
  gate_->cancel_review(held_.review_id);
  cancelled_ = true;
}

std::optional<GateResult> HeldCommand::poll() {
  std::optional<GateResult> res;
  if (cancelled_) {
    res = GateResult{};
    res->decision = Decision::deny("request #" + std::to_string(held_.review_id) + " cancelled");
    res->refusal = res->decision.reason;
  } else {
    res = gate_->poll_review(held_.review_id);
  }
  if (res && res->command_id == 0) res->command_id = held_.command_id;  // refused: finish the held row
  return res;
}

}  // namespace bastion
