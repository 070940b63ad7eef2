// How a decided kubectl invocation runs: the exact argv (the target's
// context and default namespace before the user's words), nothing of
// bastiond's environment, inside its sandbox, and as the session's own uid
// when bastiond runs as root.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "targets/kubectl/child_process.h"
#include "targets/kubectl/kubectl_args.h"
#include "targets/kubectl/kubectl_settings.h"

namespace bastion {

// The session's copy of the held kubeconfig (mode 0600, in its private HOME).
inline std::string session_kubeconfig(const std::string& home) { return home + "/kubeconfig"; }

struct KubectlRun {
  std::string home;  // the session's private HOME, which holds its kubeconfig
  bool pty = false;
  int cols = 80, rows = 24;
  std::optional<uint32_t> run_as;  // the session's sandbox uid (bastiond as root)
};

// The running child, or null and why not, fit for the user (display-escaped).
std::unique_ptr<ChildProcess> spawn_kubectl(const KubectlSettings& k, const KubectlInvocation& inv,
                                            const KubectlRun& run, std::string& error);

}  // namespace bastion
