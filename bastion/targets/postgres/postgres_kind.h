// PostgreSQL databases: a channel is a SQL console, a script or an exec
// line, and each statement in it is decided on its own.
#pragma once
#include "targets/target_kind.h"

namespace bastion {

class PostgresKind : public TargetKind {
 public:
  const char* type() const override { return "postgres"; }
  std::set<std::string> keys() const override;
  std::set<std::string> credential_keys() const override;
  std::shared_ptr<const TargetSettings> read_settings(const TableReader& r) const override;
  void check_setting_files(const TableReader& r, const TargetSettings& s) const override;
  bool settings_make_default_credential(const TargetSettings& s) const override;
  std::shared_ptr<const HeldCredential> read_credential(const TableReader& r, const TargetSettings& s, bool top_level,
                                                        bool check_files) const override;
  std::unique_ptr<TargetConnection> connect(const TargetConfig& t, const HeldCredential& cred,
                                            std::string& error) const override;
  bool commands_per_channel() const override { return true; }
  // `ssh -L LOCAL:TARGET:5432`: a PostgreSQL client's own connection, proxied
  // statement by statement (wire/pg_wire_executor.h) and recorded.
  int tunnel_port() const override { return 5432; }
  bool records_tunnels() const override { return true; }
  std::vector<std::string> command_kinds() const override { return {"sql"}; }
  ParsedCommand parse_command(const std::string& kind, const std::string& text,
                              const CommandOptions& options) const override;
};

}  // namespace bastion
