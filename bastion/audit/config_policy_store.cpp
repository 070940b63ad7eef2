#include "audit/config_policy_store.h"

#include <filesystem>

#include "audit/audit_store_open.h"
#include "audit/pg_connect.h"

namespace bastion {

std::unique_ptr<SqlAuditStore> open_policy_store(const Config& cfg, std::string& error) {
  const std::string where = cfg.audit_store();
  std::error_code ec;
  if (!is_pg_dsn(where) && !std::filesystem::exists(where, ec))
    return error = "policy store: " + where + " does not exist (no policy was pushed to it)", nullptr;
  // Reads only: no chain entry is appended under this name.
  auto store = open_audit_store(where, cfg.store_password_file, "policy reader", error);
  if (!store) error = "policy store: " + error;
  return store;
}

std::shared_ptr<const Config> load_config_reading_policy_store(const std::string& path, std::string& error,
                                                                const TargetSchemas& kinds, bool check_files) {
  auto probe = load_config(path, error, kinds, false);
  if (!probe) return nullptr;
  if (probe->store_policies.empty()) return check_files ? load_config(path, error, kinds, true) : probe;
  auto store = open_policy_store(*probe, error);
  if (!store) return error = path + ": " + error, nullptr;
  return load_config(path, error, kinds, check_files, store.get());
}

}  // namespace bastion
