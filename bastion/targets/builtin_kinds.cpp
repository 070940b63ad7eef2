// The target kinds bastiond and bastionctl know: adding a kind is its
// folder plus one line here.
#include "targets/http/http_kind.h"
#include "targets/kubectl/kubectl_kind.h"
#include "targets/postgres/postgres_kind.h"
#include "targets/ssh/ssh_kind.h"

namespace bastion {

TargetKinds builtin_target_kinds() {
  TargetKinds kinds;
  kinds.add(std::make_unique<SshKind>());
  kinds.add(std::make_unique<PostgresKind>());
  kinds.add(std::make_unique<KubectlKind>());
  kinds.add(std::make_unique<HttpKind>());
  return kinds;
}

}  // namespace bastion
