// A target kind that exists only for tests: it proves that a kind is one
// folder plus one registration line. An "echo" target answers each command
// with its greeting and the command's words; each command is decided
// through the channel's CommandGate (policy, audit, recording marker) with
// facts of its own (c.echo.words, c.echo.loud), and its config has keys of
// its own (greeting, shout, and a held `token` credential).
#pragma once
#include "targets/target_kind.h"

namespace bastion::testkind {

class EchoKind : public TargetKind {
 public:
  const char* type() const override { return "echo"; }
  std::set<std::string> keys() const override { return {"greeting", "shout", "token"}; }
  std::set<std::string> credential_keys() const override { return {"token"}; }
  std::shared_ptr<const TargetSettings> read_settings(const TableReader& r) const override;
  std::shared_ptr<const HeldCredential> read_credential(const TableReader& r, const TargetSettings& s, bool top_level,
                                                        bool check_files) const override;
  void check_files(const TargetConfig& t, std::vector<std::string>& problems) const override;
  std::unique_ptr<TargetConnection> connect(const TargetConfig& t, const HeldCredential& cred,
                                            std::string& error) const override;
  bool commands_per_channel() const override { return true; }
  std::vector<std::string> command_kinds() const override { return {"echo"}; }
  ParsedCommand parse_command(const std::string& kind, const std::string& text,
                              const CommandOptions& options) const override;
  std::set<std::string> command_options(const std::string&) const override { return {"loud"}; }
};

// The built-in kinds and this one.
TargetKinds kinds_with_echo();

}  // namespace bastion::testkind
