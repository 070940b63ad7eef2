// One kubectl command line as the user typed it: tokenized like a shell
// would (quotes), but run without one, then parsed. Shared by the executor,
// `bastionctl policy test --kind kubectl` and policy cases, so all three see
// the same facts and the same refusals.
#pragma once
#include <string>

#include "policy/policy.h"
#include "targets/kubectl/kubectl_facts.h"
#include "targets/kubectl/kubectl_args.h"

namespace bastion {

struct KubectlLine {
  KubectlInvocation invocation;
  KubectlFacts facts;
  std::string refusal;  // non-empty: the bastion refuses it, whatever the policy says
};

KubectlLine parse_kubectl_line(const std::string& line, const std::string& default_namespace);

}  // namespace bastion
