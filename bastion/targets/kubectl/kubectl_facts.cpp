#include "targets/kubectl/kubectl_facts.h"

#include <nlohmann/json.hpp>

namespace bastion {
namespace {
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
}  // namespace

void KubectlCommandFacts::describe(FactWriter& out) const {
  const KubectlFacts& k = facts;
  out.text("verb", k.verb);
  out.list("resources", k.resources);
  out.list("names", k.names);
  out.list("exec_command", k.exec_command);
  out.text("namespace", k.namespace_name);
  out.flag("all_namespaces", k.all_namespaces);
  out.flag("stdin_manifest", k.stdin_manifest);
  out.map("flags", k.flags);
}

std::string KubectlCommandFacts::audit_details() const {
  const KubectlFacts& k = facts;
  nlohmann::json j = {{"verb", k.verb}, {"resources", k.resources}, {"names", k.names}, {"namespace", k.namespace_name},
                      {"flags", k.flags}};
  if (!k.exec_command.empty()) j["exec_command"] = k.exec_command;
  return dump(j);
}

void KubeRequestCommandFacts::describe(FactWriter& out) const {
  const KubeRequestFacts& k = facts;
  out.text("verb", k.verb);
  out.text("group", k.group);
  out.text("version", k.version);
  out.text("resource", k.resource);
  out.text("subresource", k.subresource);
  out.text("namespace", k.namespace_name);
  out.text("name", k.name);
  out.list("command", k.command);
  out.text("path", k.path);
  out.text("method", k.method);
  out.text("invocation", k.invocation);
  out.flag("approved", k.approved);
  out.flag("own_kubectl", k.own_kubectl);
}

std::string KubeRequestCommandFacts::audit_details() const {
  const KubeRequestFacts& k = facts;
  nlohmann::json j = {{"verb", k.verb}, {"group", k.group}, {"version", k.version}, {"resource", k.resource},
                      {"subresource", k.subresource}, {"namespace", k.namespace_name}, {"name", k.name}, {"path", k.path},
                      {"method", k.method}};
  if (!k.command.empty()) j["command"] = k.command;
  if (!k.invocation.empty()) j["invocation"] = k.invocation;
  if (k.approved) j["approved"] = true;
  if (k.own_kubectl) j["own_kubectl"] = true;
  return dump(j);
}

}  // namespace bastion
