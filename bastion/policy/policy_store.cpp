#include "policy/policy_store.h"

#include <nlohmann/json.hpp>

#include "policy/lua_policy.h"
#include "policy/policy_library.h"

namespace bastion {

std::optional<std::string> policy_name_problem(const std::string& name) {
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (name.empty() || name.size() > kPolicyNameMax || !alnum(name[0]))
    return "a policy name is 1 to " + std::to_string(kPolicyNameMax) +
           " letters, digits, '_', '.' or '-', starting with a letter or digit";
  for (const char c : name)
    if (!alnum(c) && c != '_' && c != '.' && c != '-')
      return "a policy name is 1 to " + std::to_string(kPolicyNameMax) +
             " letters, digits, '_', '.' or '-', starting with a letter or digit";
  return std::nullopt;
}

std::string stored_policy_label(const std::string& name, int64_t version) {
  return std::string(kStorePolicyPrefix) + name + "@" + std::to_string(version);
}

std::optional<std::string> modules_to_json(const std::map<std::string, std::string>& modules) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, text] : modules) j[name] = text;
  try {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

bool modules_from_json(const std::string& json, std::map<std::string, std::string>& out, std::string& error) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return error = "modules_json is not a JSON object", false;
  for (const auto& [name, text] : j.items()) {
    if (!text.is_string()) return error = "modules_json: module " + name + " is not text", false;
    out[name] = text.get<std::string>();
  }
  return true;
}

std::shared_ptr<const PolicySource> policy_source_from_store(const StoredPolicy& p, const PolicyLimits& limits,
                                                             std::string& error) {
  auto src = std::make_shared<PolicySource>();
  // The label stands in for the file: Lua names chunks after it, so a
  // decision's source reads "store:NAME@3:12" and a module's
  // "store:NAME@3/mod.lua:4"; there is no folder to read modules from.
  src->version = stored_policy_label(p.name, p.version);
  src->path = src->version;
  src->dir = src->version;
  src->text = p.text;
  src->hash = sha256_hex(p.text);
  src->modules = p.modules;
  src->limits = limits;
  if (src->hash != p.hash) return error = src->version + ": stored text does not match its hash", nullptr;
  // Compiled once here, as a file is at load: a version that does not
  // compile under these limits is a configuration error, not a session's.
  if (!LuaPolicy::create(src, error)) return nullptr;
  return src;
}

}  // namespace bastion
