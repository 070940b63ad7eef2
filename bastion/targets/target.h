// Targets: what a session connects onward to. A TargetConnection is opened
// once per bastion session; each client channel gets an Executor from it.
// Executors never see the client: their output is pulled by the session and
// pushed through the OutputPipeline (filters, then sinks).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <libssh/libssh.h>

#include "filters/output_writer.h"

namespace bastion {

struct PtyRequest {
  std::string term;
  int cols = 80, rows = 24;
};

class CommandGate;

// What a session lends its target for connections the client itself opens
// (kubectl targets: the user's own kubectl through `ssh -L`): the token
// for this certificate and target, and the TLS identity to present.
struct ClientAccess {
  std::string token;
  std::string server_cert_pem, server_key_pem;
};

// What a client channel asks for. Policies and the audit trail see its name.
enum class ChannelKind {
  exec,       // a command line
  shell,      // an interactive shell
  subsystem,  // sftp, or a subsystem the target kind serves
  tunnel,     // a direct-tcpip channel (`ssh -L`); its text is "host:port"
};
inline const char* channel_kind_name(ChannelKind k) {
  switch (k) {
    case ChannelKind::exec: return "exec";
    case ChannelKind::shell: return "shell";
    case ChannelKind::subsystem: return "subsystem";
    case ChannelKind::tunnel: return "tunnel";
  }
  return "exec";
}

struct ExecRequest {
  ChannelKind kind = ChannelKind::exec;
  std::string text;  // command, or subsystem name
  std::optional<PtyRequest> pty;
  std::map<std::string, std::string> env;
  // For targets whose channel carries many commands (SQL): each goes
  // through this gate (policy, audit, recording marker) before it runs.
  CommandGate* gate = nullptr;
  std::optional<ClientAccess> access;
  // Set when bastiond runs as root: the uid (and gid) of this session's own
  // that a child process the target starts runs as.
  std::optional<uint32_t> sandbox_uid;
};

struct ExitInfo {
  std::optional<int> status;
  std::string signal;  // e.g. "TERM" (without SIG)
  bool core_dumped = false;
  bool lost = false;  // the connection to the target went away before it said
  // The bastion ended the command: the target's output outgrew what the
  // bastion holds for a client slower than it (SshExecutor::kMaxBuffered).
  bool overran = false;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // How many input bytes the target can take now (its flow-control window).
  virtual std::size_t input_capacity() = 0;
  // Seconds a finished command's end row (rows, duration, error), and the
  // signed recording checkpoint that seals its markers, may wait to be
  // written with later ones in one transaction. 0: at the channel's next
  // pass, before the client reads on. A wire client running thousands of
  // statements a second would otherwise pay a store transaction and a
  // signature per statement besides its start row; the start row (the
  // decision) is still written before the statement is sent, and the
  // channel's close writes what waits.
  virtual double audit_batch_delay() const { return 0; }
  virtual bool write_input(std::string_view data) = 0;
  virtual void send_eof() = 0;
  virtual void window_change(int cols, int rows) = 0;
  virtual void send_signal(const std::string& name) = 0;
  // Whether the client can take output now (false while its buffer is full).
  // Asked on every pass of a running channel.
  virtual void set_output_wanted(bool) {}
  // Something reached the executor that its last pump_output did not see: a
  // libssh callback run by a later call of the same pass (any libssh call may
  // poll every socket of the session's event). The loop passes again before
  // it sleeps, as the socket no longer shows it.
  virtual bool changed_since_pump() const { return false; }
  // Moves up to `budget` bytes of available output into `out`.
  // Returns false when the target has no more output (finished or failed).
  virtual bool pump_output(OutputWriter& out, std::size_t budget) = 0;
  // How soon the session loop must step this channel again although nothing
  // arrived (a decision waiting for the echo to settle, a held command
  // polled); nullopt: only when one of its descriptors or the client's
  // packets wake the loop. An executor that does not say is stepped every
  // kExecutorPollMs, so only those that need no timer let a session sleep.
  static constexpr int kExecutorPollMs = 200;
  virtual std::optional<int> wants_wakeup_ms() const { return kExecutorPollMs; }
  // A bastion notice (a held statement's status) told in the channel's own
  // protocol: a tunnel carries no terminal text. False: the executor has no
  // way to show it (then only the recording gets it).
  virtual bool show_notice(const std::string& /*text*/) { return false; }
  // Set once the target reported how the command ended.
  virtual ExitInfo exit_info() const = 0;
  virtual void close() = 0;
};

class TargetConnection {
 public:
  virtual ~TargetConnection() = default;
  // Starts a command; null + error (a message fit for the user) on failure.
  virtual std::unique_ptr<Executor> start(const ExecRequest& req, std::string& error) = 0;
  // The session's event loop also polls the target's sockets.
  virtual void attach(ssh_event ev) = 0;
  virtual void detach() = 0;
  virtual bool connected() const = 0;
  // True: a channel runs on it, and a second one at the same time needs a
  // connection of its own (an SSH target: see UpstreamHold).
  virtual bool busy() const { return false; }
};

}  // namespace bastion
