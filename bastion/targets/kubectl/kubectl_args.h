// What a kubectl invocation does, from its argv alone (no cluster access):
// verb and sub-verb, resource types normalised (po -> pods, deploy ->
// deployments), names, namespace, the command given to exec, and every flag.
// Also the invocations the bastion refuses whatever the policy says, because
// they would escape the held credential, tunnel around the recording, or
// touch the bastion host's own files and programs.
#pragma once
#include <map>
#include <utility>
#include <string>
#include <vector>

namespace bastion {

struct KubectlInvocation {
  std::vector<std::string> argv;          // as the user gave it (without "kubectl")
  std::string verb;                       // kubectl's command path: "get", "rollout restart", "create secret generic"
  std::vector<std::string> resources;     // normalised plural names, e.g. "pods", "deployments"
  std::vector<std::string> names;         // object names (from "pods x y", "pod/x", or exec's pod)
  std::string namespace_name;             // from -n/--namespace, else the target's default
  bool namespace_given = false;           // the user chose it
  bool all_namespaces = false;            // -A / --all-namespaces
  std::vector<std::string> exec_command;  // what follows "--" (exec, debug, run)
  std::map<std::string, std::string> flags;  // long names without dashes, normalised; the last value; booleans "true"
  std::vector<std::pair<std::string, std::string>> flag_list;  // every occurrence, in order
  bool stdin_manifest = false;            // -f - (a manifest from the user's stdin)
  bool interactive = false;               // -i / -t / -it (exec, attach, run, debug)
  std::string refusal;                    // why the bastion refuses it (empty: policy decides)
};

// `default_namespace` applies when the user gave none.
KubectlInvocation parse_kubectl(const std::vector<std::string>& argv, const std::string& default_namespace);

// "po" -> "pods", "deploy" -> "deployments", "deployment.apps" -> "deployments".
std::string normalize_resource(std::string r);

}  // namespace bastion
