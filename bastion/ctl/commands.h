// bastionctl subcommands; each takes its arguments after the subcommand name.
#pragma once
#include <string>
#include <vector>

namespace bastion {

int ctl_policy(const std::vector<std::string>& args);
int ctl_ca(const std::vector<std::string>& args);
int ctl_cert(const std::vector<std::string>& args);
int ctl_approvals(const std::vector<std::string>& args);
int ctl_recording(const std::vector<std::string>& args);
int ctl_audit(const std::vector<std::string>& args);
int ctl_session(const std::vector<std::string>& args);
// The audit store named by --config FILE (its data_dir) or --db FILE; empty
// with `error` if neither, both, or the configuration does not load.
// The audit store a command reads: --db (a SQLite file or a postgresql://
// URI, its password from libpq's passfile) or the configuration's (store,
// store_password_file, else DATA_DIR/audit.db). `password_file` gets the
// configuration's store_password_file.
std::string audit_store_path(const std::string& config_file, const std::string& db, std::string& error,
                             std::string* password_file = nullptr);
int ctl_verify(const std::vector<std::string>& args);
int ctl_recordings(const std::vector<std::string>& args);
// status | reload through the control socket (status_cmd.cpp).
int ctl_status(const std::vector<std::string>& args);
int ctl_reload(const std::vector<std::string>& args);
// Prints the usage summary to stderr; returns 2.
int ctl_usage();
// Who runs bastionctl (recorded as the issuer or the admin who decided).
std::string unix_user();

}  // namespace bastion
