// A kind of target (ssh, postgres, kubectl, ...) as one plug-in: its config
// schema and --check checks (TargetSchema), how to connect, what its
// channels carry, and how its commands parse for policy tests. Each kind
// lives in bastion/targets/<kind>/ and is registered in builtin_kinds.cpp;
// nothing outside bastion/targets/ names a kind.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "policy/command_parser.h"
#include "targets/target.h"

namespace bastion {

// What a kind whose users open their own connections (tunnels) presents to
// them, loaded once at server start from data_dir: a TLS identity and the
// key that makes each certificate's token.
struct ClientAccessIdentity {
  std::string cert_pem, key_pem, token_key;
};

class IssuedCertLedger;

// Who an onward connection is for: what a kind that mints per-connection
// credentials (ssh `ca = ...`) names in them and records.
struct ConnectContext {
  std::string session_id;
  std::string identity;         // the user's certificate key ID
  IssuedCertLedger* certs = nullptr;  // where minted credentials are recorded
};

class TargetKind : public TargetSchema {
 public:
  // Connects as `cred`, one of t's credentials (the one the session's policy
  // chose; blocking, bounded by the kind's connect timeout). Null + a
  // message fit for the user on failure. The connection copies what it
  // keeps of `t` and `cred`: they belong to a configuration snapshot that a
  // reload may release while the connection still serves channels.
  virtual std::unique_ptr<TargetConnection> connect(const TargetConfig& t, const HeldCredential& cred,
                                                    std::string& error) const = 0;
  // The same for a user's session (what bastiond calls); by default connect().
  virtual std::unique_ptr<TargetConnection> connect_for(const TargetConfig& t, const HeldCredential& cred,
                                                        const ConnectContext& /*ctx*/, std::string& error) const {
    return connect(t, cred, error);
  }
  // True when a channel carries many commands, each decided on its own
  // through the channel's CommandGate (a console, a script), rather than one
  // decided when the channel starts.
  virtual bool commands_per_channel() const { return false; }
  // True when the channel's input is command lines the kind's executor
  // decides one by one through the gate (a shell reading stdin): the
  // channel's own request says so (c.lines_decided).
  virtual bool decides_lines(const ExecRequest&) const { return false; }
  // Subsystems its channels serve (ssh: sftp).
  virtual bool serves_subsystem(std::string_view) const { return false; }
  // `ssh -L LOCAL:TARGET:PORT`: the one port a tunnel may name (0: none).
  virtual int tunnel_port() const { return 0; }
  // Its tunnel channels are recorded (a protocol proxy that writes one event
  // per statement through Stream::record; opening the recording is then
  // required as for a console). Kinds whose tunnels carry TLS records are not.
  virtual bool records_tunnels() const { return false; }
  // Its channels start child processes: when bastiond runs as root, each
  // session gets a uid of its own for them (ExecRequest::sandbox_uid).
  virtual bool runs_children() const { return false; }
  // Whether a channel (kind, text) gets the session's ClientAccess.
  virtual bool hands_out_client_access(ChannelKind /*channel_kind*/, const std::string& /*text*/) const {
    return false;
  }
  // At server start: the identity client access uses (false + why: tunnels
  // are refused). Kinds without tunnels have none.
  virtual bool load_client_access_identity(const std::string& /*data_dir*/, ClientAccessIdentity&,
                                           std::string& /*error*/) const {
    return false;
  }
  // This certificate's access to target `target`.
  virtual ClientAccess client_access(const ClientAccessIdentity&, const std::string& /*target*/,
                                     std::string_view /*cert_signed_data*/) const {
    return {};
  }
  // bastionctl subcommands of its own (`bastionctl NAME ARGS...`).
  struct CtlCommand {
    std::string name, usage;
    int (*run)(const std::vector<std::string>& args);
  };
  virtual std::vector<CtlCommand> ctl_commands() const { return {}; }
  // The command kinds it parses (policy tests: `--kind`, a case's `kind`).
  virtual std::vector<std::string> command_kinds() const { return {}; }
  virtual ParsedCommand parse_command(const std::string& /*kind*/, const std::string& text,
                                      const CommandOptions&) const {
    return ParsedCommand{.text = text};
  }
  // The options parse_command reads for `kind` (a case's extra fields).
  virtual std::set<std::string> command_options(const std::string& /*kind*/) const { return {}; }
  // The options a live session on `t` parses its commands with (a kubectl
  // target's namespace), for `bastionctl policy test --config --target`.
  virtual CommandOptions target_command_options(const TargetConfig& /*t*/) const { return {}; }
  // The command kind an exec channel's command is decided as, for
  // `bastionctl policy test --config --target` without --kind: its first
  // parsed kind (a statement, an invocation), or "exec" when it has none.
  virtual std::string exec_command_kind() const {
    const auto k = command_kinds();
    return k.empty() ? "exec" : k.front();
  }
};

// The kind a loaded target is (its schema came from a TargetKinds).
const TargetKind& kind_of(const TargetConfig& t);

// The registry: one line per kind (builtin_kinds.cpp); tests add their own.
class TargetKinds : public TargetSchemas, public CommandParser {
 public:
  TargetKinds() = default;
  TargetKinds(TargetKinds&&) = default;
  void add(std::unique_ptr<TargetKind> kind) { kinds_.push_back(std::move(kind)); }
  const TargetKind* find(std::string_view type) const;
  const std::vector<std::unique_ptr<TargetKind>>& all() const { return kinds_; }

  const TargetSchema* schema(std::string_view type) const override { return find(type); }
  std::vector<std::string> types() const override;
  std::optional<ParsedCommand> parse(const std::string& kind, const std::string& text,
                                     const CommandOptions& options) const override;
  std::set<std::string> option_names(const std::string& kind) const override;
  // The first kind registered.
  std::string default_target_type() const override { return kinds_.empty() ? "" : kinds_.front()->type(); }
  // Every command kind some target kind parses, for usage lines.
  std::vector<std::string> command_kinds() const;

 private:
  std::vector<std::unique_ptr<TargetKind>> kinds_;
};

// ssh, postgres, kubectl, http.
TargetKinds builtin_target_kinds();

}  // namespace bastion
