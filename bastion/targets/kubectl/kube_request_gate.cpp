#include "targets/kubectl/kube_request_gate.h"

#include "targets/kubectl/kube_request.h"
#include "targets/kubectl/kubectl_facts.h"

namespace bastion {

void serve_kube_requests(KubeDecisionQueue& queue, CommandGate& gate, const std::string& invocation, bool approved) {
  queue.serve(
      [&](const KubeRequestFacts& f) {
        CommandRequest req = gate.request("kube_request", kube_request_text(f));
        KubeRequestFacts facts = f;
        if (!invocation.empty()) {
          facts.invocation = invocation;
          facts.approved = approved;
        }
        req.facts = std::make_shared<KubeRequestCommandFacts>(std::move(facts));
        const GateResult g = gate.submit_request(req);
        KubeAnswer a;
        a.allowed = g.decision.allowed();
        a.mask_secrets = g.decision.verdict == Decision::Verdict::mask;
        a.reason = g.refusal.empty() ? g.decision.reason : g.refusal;
        a.command_id = g.command_id;
        if (!a.allowed) {  // it never reaches the cluster: the row ends here
          CommandOutcome o;
          o.status = 403;
          o.error = "denied";
          gate.request_ended(g.command_id, o);
          a.command_id = 0;
        }
        return a;
      },
      [&](int64_t id, const CommandOutcome& o) { gate.request_ended(id, o); });
}

}  // namespace bastion
