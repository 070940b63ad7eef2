// Kubernetes through kubectl: a channel is a kubectl console, script or
// exec line, each invocation decided on its own and every API request it
// makes decided again at the bastion's API proxy; users' own kubectl comes
// through `ssh -L 6443:TARGET:443`.
#pragma once
#include "targets/target_kind.h"

namespace bastion {

class KubectlKind : public TargetKind {
 public:
  const char* type() const override { return "kubectl"; }
  std::set<std::string> keys() const override;
  std::set<std::string> credential_keys() const override { return {"kubeconfig", "context"}; }
  // The top-level `context` is also the name kubectl is given: only a
  // kubeconfig there makes a default credential.
  std::set<std::string> default_credential_keys() const override { return {"kubeconfig"}; }
  std::shared_ptr<const TargetSettings> read_settings(const TableReader& r) const override;
  std::shared_ptr<const HeldCredential> read_credential(const TableReader& r, const TargetSettings& s, bool top_level,
                                                        bool check_files) const override;
  void check_setting_files(const TableReader& r, const TargetSettings& s) const override;
  void check_files(const TargetConfig& t, std::vector<std::string>& problems) const override;
  void check_warnings(const TargetConfig& t, std::set<std::string>& seen,
                      std::vector<std::string>& warnings) const override;
  std::unique_ptr<TargetConnection> connect(const TargetConfig& t, const HeldCredential& cred,
                                            std::string& error) const override;
  bool commands_per_channel() const override { return true; }
  bool serves_subsystem(std::string_view name) const override;
  int tunnel_port() const override;
  bool runs_children() const override { return true; }
  bool hands_out_client_access(ChannelKind channel_kind, const std::string& text) const override;
  bool load_client_access_identity(const std::string& data_dir, ClientAccessIdentity& out,
                                   std::string& error) const override;
  ClientAccess client_access(const ClientAccessIdentity& id, const std::string& target,
                             std::string_view cert_signed_data) const override;
  std::vector<CtlCommand> ctl_commands() const override;
  std::vector<std::string> command_kinds() const override { return {"kubectl", "kube_request"}; }
  ParsedCommand parse_command(const std::string& kind, const std::string& text,
                              const CommandOptions& options) const override;
  // As the executor parses a kubectl line: the target's namespace.
  CommandOptions target_command_options(const TargetConfig& t) const override;
  std::set<std::string> command_options(const std::string& kind) const override {
    if (kind == "kubectl") return {"namespace"};
    return {"approved", "own_kubectl"};
  }
};

}  // namespace bastion
