// The kubectl child's sandbox: the bubblewrap argv that runs kubectl in
// fresh namespaces seeing only the system's programs and libraries
// (read-only), TLS roots, name resolution files, a private /tmp and the
// per-session HOME; nothing of the bastion's config, keys, other targets'
// credentials, audit DB or recordings. Also the resource limits set before
// exec and the environment kubectl gets (editors that refuse, no plugin
// PATH). Pure functions: the caller forks and execs.
#pragma once
#include <string>
#include <vector>

namespace bastion {

struct KubectlSandbox {
  bool enabled = true;
  std::string bwrap = "/usr/bin/bwrap";
};

// The environment kubectl runs with: HOME, KUBECONFIG, PATH=/usr/bin:/bin,
// KUBE_EDITOR/EDITOR/VISUAL=/bin/false, LANG (+ TERM on a pty).
std::vector<std::string> kubectl_environment(const std::string& home, const std::string& kubeconfig, bool pty);

// The argv to exec: bwrap ... -- KUBECTL ARGS (or KUBECTL ARGS unchanged
// when the sandbox is off). Empty + `error` when it cannot be built (bwrap
// missing, kubectl's path unresolvable): the caller refuses the command.
// `pty`: on a terminal the child keeps it as its controlling terminal (no
// --new-session) so window resizes reach kubectl; TIOCSTI into it only
// reaches kubectl's own input.
std::vector<std::string> sandboxed_argv(const KubectlSandbox& s, const std::vector<std::string>& kubectl_argv,
                                        const std::vector<std::string>& env, const std::string& home, bool pty,
                                        std::string& error);

// RLIMIT_NPROC counts every process and thread of the real uid (bastiond's
// own included): the limit that lets kubectl start 256 more than that uid
// runs now. Read in the parent (it scans /proc).
unsigned long kubectl_process_limit();
// The process limit for a child running as a uid of its own.
inline constexpr unsigned long kSandboxProcesses = 256;

// Resource limits for the child, applied between fork and exec
// (async-signal-safe): CPU 600 s, address space 4 GiB, `processes`
// (from kubectl_process_limit), no core file.
bool apply_kubectl_limits(unsigned long processes);

}  // namespace bastion
