// bastiond: the SSH bastion daemon, with the built-in target kinds.
#include "front/server.h"

int main(int argc, char** argv) {
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  return bastion::bastiond_main(argc, argv, kinds);
}
