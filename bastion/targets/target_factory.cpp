// The one place that knows every kind of target.
#include "config/config.h"
#include "targets/kubectl/kubectl_target.h"
#include "targets/postgres/pg_target.h"
#include "targets/ssh/ssh_target.h"

namespace bastion {

std::unique_ptr<TargetConnection> connect_target(const TargetConfig& t, std::string& error) {
  if (t.type == "postgres") return PgTargetConnection::connect(t, error);
  if (t.type == "kubectl") return KubectlTargetConnection::connect(t, error);
  return SshTargetConnection::connect(t, error);
}

}  // namespace bastion
