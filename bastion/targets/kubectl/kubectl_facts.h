// What the kubectl parser found in one invocation (command kind "kubectl")
// and what the API proxy read from one API request (command kind
// "kube_request"), as policies read them (c.kubectl, c.kube) and the audit
// row's details record them.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "policy/command_facts.h"

namespace bastion {

// What the kubectl parser found in one invocation (kind "kubectl").
struct KubectlFacts {
  std::string verb;  // "get", "rollout restart", ...
  std::vector<std::string> resources, names;
  std::string namespace_name;  // "*" with all_namespaces
  bool all_namespaces = false;
  std::vector<std::string> exec_command;
  std::map<std::string, std::string> flags;
  bool stdin_manifest = false;
};

// One Kubernetes API request as the API server would authorize it
// (kind "kube_request"), read by the bastion's API proxy.
struct KubeRequestFacts {
  std::string verb;  // get list watch create update patch delete deletecollection exec attach portforward proxy
  std::string group;  // "" for the core group
  std::string version, resource, subresource, namespace_name, name;
  std::vector<std::string> command;  // exec: the `command` query parameters
  std::string path, method;
  // The kubectl invocation running when the request came (empty: none), and
  // whether a human approved it (a review at the argv layer).
  std::string invocation;
  bool approved = false;
  // The request came from the user's own kubectl through an `ssh -L` tunnel
  // (no invocation: the bastion never saw the command line).
  bool own_kubectl = false;
};

class KubectlCommandFacts : public CommandFacts {
 public:
  explicit KubectlCommandFacts(KubectlFacts f) : facts(std::move(f)) {}
  const char* field() const override { return "kubectl"; }
  void describe(FactWriter& out) const override;
  std::string audit_details() const override;
  const KubectlFacts facts;
};

class KubeRequestCommandFacts : public CommandFacts {
 public:
  explicit KubeRequestCommandFacts(KubeRequestFacts f) : facts(std::move(f)) {}
  const char* field() const override { return "kube"; }
  void describe(FactWriter& out) const override;
  std::string audit_details() const override;
  const KubeRequestFacts facts;
};

}  // namespace bastion
