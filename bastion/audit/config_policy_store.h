// Loading a configuration whose policies may name the shared policy store
// (`policy = "store:NAME"`): the store is named by the configuration
// itself, so it is read once to find the store, which is then opened and
// the configuration loaded again with it. For the tools that check or test
// what bastiond would run (bastiond --check, bastionctl config check,
// policy check/test --config); bastiond itself loads again with the store
// it keeps open (front/server.cpp).
#pragma once
#include <memory>
#include <string>

#include "audit/sql_audit_store.h"
#include "config/config.h"

namespace bastion {

// Opens the store `cfg` names to read policies from it. A SQLite store that
// does not exist yet is not created (nothing was ever pushed to it).
std::unique_ptr<SqlAuditStore> open_policy_store(const Config& cfg, std::string& error);

// load_config, with `policy = "store:NAME"` resolved from the
// configuration's store when it names any. Null + error as load_config.
std::shared_ptr<const Config> load_config_reading_policy_store(const std::string& path, std::string& error,
                                                                const TargetSchemas& kinds, bool check_files);

}  // namespace bastion
