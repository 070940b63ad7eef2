// `bastionctl kubeconfig`: the kubeconfig for a user's own kubectl (the
// kubectl kind's command in bastionctl).
#pragma once
#include <string>
#include <vector>

namespace bastion {

int ctl_kubeconfig(const std::vector<std::string>& args);

}  // namespace bastion
