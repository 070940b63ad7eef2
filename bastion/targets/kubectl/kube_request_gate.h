// The second layer's decisions: the API proxy's queued requests, each
// decided by the policy through a channel's CommandGate (audit row,
// recording marker), on the session thread. Shared by the kubectl executor
// (requests grouped under the invocation running) and the tunnel that
// serves users' own kubectl (no invocation).
#pragma once
#include <string>

#include "policy/command_gate.h"
#include "targets/kubectl/kube_decision_queue.h"

namespace bastion {

void serve_kube_requests(KubeDecisionQueue& queue, CommandGate& gate, const std::string& invocation, bool approved);

}  // namespace bastion
