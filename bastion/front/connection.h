// One accepted TCP connection: key exchange, certificate authentication
// within the login grace time, then the Session. Runs on its own thread.
// It is created holding an unauthenticated slot (ServerContext::admit_startup)
// for its source, and trades it for a session slot when it authenticates.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <libssh/callbacks.h>

#include "common/ssh_handles.h"
#include "session/server_context.h"
#include "session/session.h"

namespace bastion {

class Connection {
 public:
  Connection(ServerContext& ctx, SshSession s, std::string peer, std::string source);
  ~Connection();
  // Never throws: an exception ends this connection only.
  void run();

 private:
  static int cb_auth_pubkey(ssh_session, const char* user, ssh_key key, char state, void* self);
  static ssh_channel cb_channel_open(ssh_session, void* self);
  static int cb_message(ssh_session, ssh_message msg, void* self);
  int auth_pubkey(const char* user, ssh_key key, char state);
  // Password, keyboard-interactive, none and unknown methods: refused, and
  // audited (none only at the end, see audit_unfinished_login).
  void auth_other(ssh_message msg);
  // Counts, logs and audits one refused attempt (key ID and reason bounded
  // with clip_untrusted; user is login_user_); disconnects after too many.
  int refuse_login(const std::string& user, const std::string& why, const std::string& key_id, uint64_t serial,
                   const std::string& ca, bool client_fault = true);
  // A connection that asked to log in and ended with no audited answer
  // (plain keys offered and declined, or no credential at all) leaves one row;
  // each certificate accepted in a query but never signed for leaves one too.
  void audit_unfinished_login();
  // A certificate the client asked about ("would you accept it?", answered
  // yes) but has not yet signed for: a stolen certificate without its key.
  // `refused`: the reason a signed attempt would get (a problem the holder
  // could fix: the query was answered yes only so that it is told then).
  void note_probe(const std::string& key_id, uint64_t serial, const std::string& ca,
                  const std::string& refused = "");
  void forget_probe(const std::string& key_id, uint64_t serial, const std::string& ca);
  // SSH_MSG_USERAUTH_BANNER: shown by OpenSSH on stderr (unless LogLevel=quiet).
  void send_banner(const std::string& text);
  void serve();
  void audit_auth(const std::string& user, const std::string& key_id, uint64_t serial,
                  const std::string& ca_fp, bool ok, const std::string& reason);

  ServerContext& ctx_;
  std::shared_ptr<const Config> cfg_;
  SshSession session_;
  std::string peer_;
  std::string source_;        // peer_'s group for per_source_max_startups
  bool unauthenticated_ = true;  // holds an unauthenticated slot
  bool session_slot_ = false;    // holds one of max_sessions
  ssh_server_callbacks_struct cb_{};
  int failures_ = 0;
  // For per_source_penalties: why an unauthenticated connection ended.
  int credential_failures_ = 0;  // refusals that were the client's doing
  bool grace_exceeded_ = false;
  bool refused_by_us_ = false;   // limits, audit store: not the client's doing
  std::string identity_slot_;  // key id holding a per-identity slot
  // For audit_unfinished_login: what the client asked for and offered.
  bool login_asked_ = false;
  bool login_audited_ = false;
  std::string login_user_;  // as sent, clipped (clip_untrusted): goes into rows and logs
  std::vector<std::string> plain_keys_;  // "ssh-ed25519 SHA256:...", at most kMaxPlainKeysNamed
  bool more_plain_keys_ = false;
  struct Probe {
    std::string user, key_id, ca;
    uint64_t serial = 0;
    std::string refused;
  };
  std::vector<Probe> probes_;  // at most kMaxProbesNamed
  int more_probes_ = 0;
  std::unique_ptr<Session> s_;
};

}  // namespace bastion
