#include "session/command_details.h"

#include <nlohmann/json.hpp>

namespace bastion {

std::string command_details(const CommandRequest& req) {
  nlohmann::json j;
  if (req.kube) {
    const KubeRequestFacts& k = *req.kube;
    j = {{"verb", k.verb}, {"group", k.group}, {"version", k.version}, {"resource", k.resource},
         {"subresource", k.subresource}, {"namespace", k.namespace_name}, {"name", k.name}, {"path", k.path},
         {"method", k.method}};
    if (!k.command.empty()) j["command"] = k.command;
    if (!k.invocation.empty()) j["invocation"] = k.invocation;
    if (k.approved) j["approved"] = true;
    if (k.own_kubectl) j["own_kubectl"] = true;
  } else if (req.kubectl) {
    const KubectlFacts& k = *req.kubectl;
    j = {{"verb", k.verb}, {"resources", k.resources}, {"names", k.names}, {"namespace", k.namespace_name},
         {"flags", k.flags}};
    if (!k.exec_command.empty()) j["exec_command"] = k.exec_command;
  } else if (req.sql) {
    const SqlFacts& q = *req.sql;
    j = {{"statement", q.statement}, {"reads", q.reads}, {"writes", q.writes}, {"functions", q.functions}};
    // What an auditor searches for: what the classifier could not see, and settings changed.
    if (q.opaque) j["opaque_reasons"] = q.opaque_reasons;
    for (const auto& st : q.sets) j["sets"].push_back({{"name", st.name}, {"value", st.value}, {"reset", st.reset}});
  } else {
    return "";
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
