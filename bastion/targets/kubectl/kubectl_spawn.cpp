#include "targets/kubectl/kubectl_spawn.h"

#include <unistd.h>

#include "common/display_escape.h"
#include "targets/kubectl/sandbox.h"

namespace bastion {

std::unique_ptr<ChildProcess> spawn_kubectl(const KubectlSettings& k, const KubectlInvocation& inv,
                                            const KubectlRun& run, std::string& error) {
  std::vector<std::string> argv{k.kubectl};
  if (!k.context.empty()) argv.push_back("--context=" + k.context);
  if (!inv.namespace_given && !inv.all_namespaces && !k.namespace_name.empty())
    argv.push_back("--namespace=" + k.namespace_name);
  for (const auto& a : inv.argv) argv.push_back(a);
  ChildProcess::Options o;
  // Nothing of bastiond's environment: the session's kubeconfig, a private
  // HOME, editors that refuse, no plugin PATH; inside the sandbox.
  o.env = kubectl_environment(run.home, session_kubeconfig(run.home), run.pty);
  std::string sandbox_error;
  o.argv = sandboxed_argv(KubectlSandbox{k.sandbox, k.bwrap}, argv, o.env, run.home, run.pty, sandbox_error);
  if (o.argv.empty()) {  // fail closed: no kubectl outside its sandbox
    error = display_escape(sandbox_error);
    return nullptr;
  }
  if (k.sandbox) o.env.clear();  // bwrap --clearenv --setenv carries it
  // As root, kubectl runs as the session's own uid (never root, never shared:
  // its RLIMIT_NPROC then counts only its own processes).
  if (geteuid() == 0 && !run.run_as) {
    error = "no sandbox user for this session";
    return nullptr;
  }
  if (run.run_as) o.run_as = std::pair{static_cast<uid_t>(*run.run_as), static_cast<gid_t>(*run.run_as)};
  o.limit_processes = run.run_as ? kSandboxProcesses : kubectl_process_limit();
  o.cwd = run.home;
  o.pty = run.pty;
  o.cols = run.cols;
  o.rows = run.rows;
  std::string err;
  auto child = ChildProcess::spawn(o, err);
  if (!child) error = display_escape(err);
  return child;
}

}  // namespace bastion
