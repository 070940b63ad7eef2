// The one place that knows every kind of target.
#include "config/config.h"
#include "targets/kubectl/kubectl_target.h"
#include "targets/postgres/pg_target.h"
#include "targets/ssh/ssh_target.h"

namespace bastion {

std::unique_ptr<TargetConnection> connect_target(const TargetConfig& t, const HeldCredential& cred,
                                                 std::string& error) {
  if (t.type == "postgres") return PgTargetConnection::connect(t, cred, error);
  if (t.type == "kubectl") return KubectlTargetConnection::connect(t, cred, error);
  return SshTargetConnection::connect(t, cred, error);
}

}  // namespace bastion
