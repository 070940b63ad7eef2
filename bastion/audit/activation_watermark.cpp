#include "audit/activation_watermark.h"

#include <unistd.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "policy/policy_store.h"

namespace bastion {

std::string activation_watermark_path(const std::string& data_dir) { return data_dir + "/policy_activations_seen"; }

bool read_activation_watermark(const std::string& path, std::map<std::string, int64_t>& out, std::string& error) {
  out.clear();
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return true;
  std::string text, why;
  if (!read_file(path, text, why)) return error = path + ": " + why, false;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return error = path + ": not a JSON object of policy names and activation ids", false;
  for (const auto& [name, id] : j.items()) {
    if (policy_name_problem(name) || !id.is_number_integer() || id.get<int64_t>() < 1)
      return error = path + ": not a JSON object of policy names and activation ids", false;
    out[name] = id.get<int64_t>();
  }
  return true;
}

bool write_activation_watermark(const std::string& path, const std::map<std::string, int64_t>& seen,
                                std::string& error) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, id] : seen) j[name] = id;
  return write_file_atomic(path, j.dump() + "\n", 0600, false, error);
}

}  // namespace bastion
