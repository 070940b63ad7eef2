// HTTP APIs (an OCI/Docker registry among them) behind a credential only
// the bastion holds: users' own clients speak plain HTTP/1.1 through
// `ssh -L 5000:TARGET:443`, one tunnel channel per TCP connection; every
// request is decided (command kind "http"), audited and summarised in the
// recording, and forwarded upstream over verified TLS with the held
// credential. `ssh TARGET@bastion GET /path` makes one call.
#pragma once
#include "targets/target_kind.h"

namespace bastion {

class HttpKind : public TargetKind {
 public:
  static constexpr int kTunnelPort = 443;

  const char* type() const override { return "http"; }
  std::set<std::string> keys() const override;
  std::set<std::string> credential_keys() const override { return {"basic", "bearer_file", "client_cert", "client_key"}; }
  std::shared_ptr<const TargetSettings> read_settings(const TableReader& r) const override;
  std::shared_ptr<const HeldCredential> read_credential(const TableReader& r, const TargetSettings& s, bool top_level,
                                                        bool check_files) const override;
  void check_setting_files(const TableReader& r, const TargetSettings& s) const override;
  void check_warnings(const TargetConfig& t, std::set<std::string>& seen,
                      std::vector<std::string>& warnings) const override;
  std::unique_ptr<TargetConnection> connect(const TargetConfig& t, const HeldCredential& cred,
                                            std::string& error) const override;
  bool commands_per_channel() const override { return true; }
  int tunnel_port() const override { return kTunnelPort; }
  bool records_tunnels() const override { return true; }
  std::vector<std::string> command_kinds() const override { return {"http"}; }
  ParsedCommand parse_command(const std::string& kind, const std::string& text,
                              const CommandOptions& options) const override;
  std::set<std::string> command_options(const std::string&) const override { return {"registry", "query"}; }
  CommandOptions target_command_options(const TargetConfig& t) const override;
};

}  // namespace bastion
