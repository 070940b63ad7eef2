// Remote hosts over SSH: one command (or shell, or sftp) per channel,
// decided when the channel starts.
#pragma once
#include "targets/target_kind.h"

namespace bastion {

class SshKind : public TargetKind {
 public:
  const char* type() const override { return "ssh"; }
  std::set<std::string> keys() const override;
  std::set<std::string> credential_keys() const override;
  std::shared_ptr<const TargetSettings> read_settings(const TableReader& r) const override;
  std::shared_ptr<const HeldCredential> read_credential(const TableReader& r, const TargetSettings& s, bool top_level,
                                                        bool check_files) const override;
  void check_setting_files(const TableReader& r, const TargetSettings& s) const override;
  void check_files(const TargetConfig& t, std::vector<std::string>& problems) const override;
  void check_warnings(const TargetConfig& t, std::set<std::string>& seen, std::vector<std::string>& out) const override;
  std::unique_ptr<TargetConnection> connect(const TargetConfig& t, const HeldCredential& cred,
                                            std::string& error) const override;
  std::unique_ptr<TargetConnection> connect_for(const TargetConfig& t, const HeldCredential& cred,
                                                const ConnectContext& ctx, std::string& error) const override;
  bool serves_subsystem(std::string_view name) const override { return name == "sftp"; }
  bool decides_lines(const ExecRequest& req) const override;
  // "shell_line": a line typed in a pty shell (options nested, hidden, program, fullscreen);
  // "sftp": one file operation of an sftp channel (its audit text).
  std::vector<std::string> command_kinds() const override { return {"shell_line", "sftp"}; }
  ParsedCommand parse_command(const std::string& kind, const std::string& text,
                              const CommandOptions& options) const override;
  std::set<std::string> command_options(const std::string& kind) const override {
    if (kind == "sftp") return {"op", "path", "to", "mode", "attrs"};
    return {"nested", "hidden", "fullscreen", "pasted", "continued", "program"};
  }
  // An exec channel's command is a shell line the target's shell runs (c.parts).
  std::string exec_command_kind() const override { return "exec"; }
};

}  // namespace bastion
