// bastiond with the test-only "echo" target kind registered beside the
// built-in ones (integration.target_kind_plugin runs it).
#include "echo_kind.h"
#include "front/server.h"

int main(int argc, char** argv) {
  const bastion::TargetKinds kinds = bastion::testkind::kinds_with_echo();
  return bastion::bastiond_main(argc, argv, kinds);
}
