// bastionctl: the admin and auditor command line.
#include <cstdio>
#include <string>
#include <vector>

#include "common/display_escape.h"
#include "config/config.h"
#include "ctl/commands.h"
#include "targets/target_kind.h"

int bastion::ctl_usage() {
  std::fprintf(stderr,
               "usage: bastionctl config check FILE\n"
               "       bastionctl policy check FILE... | policy test FILE ... (see bastionctl(1))\n"
               "       bastionctl recording cat [--raw] FILE print what the user saw (--raw: the exact bytes sent)\n"
               "       bastionctl recording play [--speed X] [--idle-limit S] [--markers] FILE\n"
               "       bastionctl recording verify FILE      check a recording is well formed\n"
               "       bastionctl audit sessions|commands|auth (--config FILE | --db FILE) [--since T] [--until T] ... [--json]\n"
               "       bastionctl session show ID (--config FILE | --db FILE) [--json]\n"
               "       bastionctl verify (--config FILE | --db FILE) [--key PUBFILE] [SESSION_ID | --all] [--json]\n"
               "       bastionctl recordings prune (--config FILE | --db FILE --retention D) [--dry-run]\n"
               "       bastionctl ca init [--type ed25519|ecdsa|rsa] [--bits N] FILE\n"
               "       bastionctl cert issue --ca FILE --identity ID --principals P,... --ttl 8h ... PUBKEY_FILE\n"
               "       bastionctl approvals (--config FILE | --db FILE) list | show N | approve N | deny N --reason T\n"
               "       bastionctl status|reload [--config FILE | --socket PATH] [--json]  ask the running bastiond\n");
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  for (const auto& kind : kinds.all())
    for (const auto& c : kind->ctl_commands()) std::fprintf(stderr, "       %s\n", c.usage.c_str());
  return 2;
}

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.empty()) return bastion::ctl_usage();
  const std::string cmd = a[0];
  a.erase(a.begin());
  if (cmd == "config" && a.size() == 2 && a[0] == "check") {
    std::string err;
    const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
    auto cfg = bastion::load_config(a[1], err, kinds);
    if (!cfg) {
      std::fprintf(stderr, "%s\n", bastion::display_escape_multiline(err).c_str());
      return 1;
    }
    std::printf("%s: OK\n", a[1].c_str());
    return 0;
  }
  if (cmd == "recording") return bastion::ctl_recording(a);
  if (cmd == "policy") return bastion::ctl_policy(a);
  if (cmd == "audit") return bastion::ctl_audit(a);
  if (cmd == "session") return bastion::ctl_session(a);
  if (cmd == "verify") return bastion::ctl_verify(a);
  if (cmd == "recordings") return bastion::ctl_recordings(a);
  if (cmd == "ca") return bastion::ctl_ca(a);
  if (cmd == "cert") return bastion::ctl_cert(a);
  if (cmd == "approvals") return bastion::ctl_approvals(a);
  if (cmd == "status") return bastion::ctl_status(a);
  if (cmd == "reload") return bastion::ctl_reload(a);
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  for (const auto& kind : kinds.all())
    for (const auto& c : kind->ctl_commands())
      if (cmd == c.name) return c.run(a);
  return bastion::ctl_usage();
}
