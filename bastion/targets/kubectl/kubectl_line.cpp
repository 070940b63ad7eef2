#include "targets/kubectl/kubectl_line.h"

#include "policy/shell_words.h"

namespace bastion {

KubectlLine parse_kubectl_line(const std::string& line, const std::string& default_namespace) {
  KubectlLine out;
  const ShellParse sp = parse_shell(line);
  if (!sp.error.empty()) {
    out.refusal = "cannot read this command line: " + sp.error;
    return out;
  }
  if (sp.parts.size() != 1 || !sp.parts[0].redirects.empty() || sp.parts[0].depth != 0) {
    out.refusal = "kubectl runs directly, not through a shell: pipes, redirections and command substitution "
                  "are not available";
    return out;
  }
  std::vector<std::string> argv = sp.parts[0].argv;
  if (!argv.empty() && argv[0] == "kubectl") argv.erase(argv.begin());
  out.invocation = parse_kubectl(argv, default_namespace);
  const KubectlInvocation& k = out.invocation;
  out.facts = KubectlFacts{k.verb, k.resources, k.names, k.namespace_name, k.all_namespaces,
                           k.exec_command, k.flags, k.stdin_manifest};
  out.refusal = k.refusal;
  return out;
}

}  // namespace bastion
