// bastionctl: the admin and auditor command line.
#include <cstdio>
#include <string>
#include <vector>

#include "audit/config_policy_store.h"
#include "common/display_escape.h"
#include "config/config.h"
#include "ctl/commands.h"
#include "ctl/ctl_usage.h"
#include "targets/target_kind.h"

namespace {

// The target kinds' own subcommands' usage lines, after the table's.
std::vector<bastion::ExtraUsage> kind_usage() {
  std::vector<bastion::ExtraUsage> out;
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  for (const auto& kind : kinds.all())
    for (const auto& c : kind->ctl_commands()) out.push_back({c.name, c.usage});
  return out;
}

int config_check(const std::vector<std::string>& a) {
  if (a.size() != 2 || a[0] != "check") return bastion::ctl_usage();
  std::string err;
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  // As bastiond --check: a `store:NAME` policy is read from the store.
  auto cfg = bastion::load_config_reading_policy_store(a[1], err, kinds, true);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", bastion::display_escape_multiline(err).c_str());
    return 1;
  }
  std::printf("%s: OK\n", bastion::display_escape(a[1]).c_str());
  return 0;
}

}  // namespace

int bastion::ctl_usage() {
  print_all_usage(stderr, kind_usage());
  return 2;
}

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.empty()) return bastion::ctl_usage();
  const std::string cmd = a[0];
  a.erase(a.begin());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    bastion::print_all_usage(stdout, kind_usage());
    return 0;
  }
  // --help / -h and unknown options, for every command in the usage table.
  if (const auto rc = bastion::ctl_precheck(cmd, a)) return *rc;
  if (cmd == "config") return config_check(a);
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
  // Further subcommands: one dispatch line each here, one usage entry in ctl/ctl_usage.cpp.
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  for (const auto& kind : kinds.all())
    for (const auto& c : kind->ctl_commands())
      if (cmd == c.name) {
        // A kind's subcommand has one usage line; it checks its own options.
        if (!a.empty() && (a[0] == "--help" || a[0] == "-h"))
          return std::printf("usage: %s\n", c.usage.c_str()), 0;
        return c.run(a);
      }
  std::fprintf(stderr, "bastionctl: unknown command %s\n", bastion::display_escape(cmd).c_str());
  return bastion::ctl_usage();
}
