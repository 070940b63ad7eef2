// bastiond's command line: --config, --check, --version.
#include <cstdio>
#include <cstring>
#include <string>

#include <libssh/libssh.h>

#include "audit/audit_signer.h"
#include "common/log.h"
#include "config/config.h"
#include "config/config_check.h"
#include "front/privileges.h"
#include "front/server.h"

namespace {
void usage() {
  std::fprintf(stderr,
               "usage: bastiond --config FILE [--check]\n"
               "       bastiond --version\n");
}
}  // namespace

namespace bastion {

int bastiond_main(int argc, char** argv, const TargetKinds& kinds) {
  std::string config;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--config" || a == "-f") && i + 1 < argc) config = argv[++i];
    else if (a == "--check" || a == "-t") check = true;
    else if (a == "--version") {
      std::printf("bastiond %s (libssh %s)\n", BASTION_VERSION, ssh_version(0));
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (config.empty()) {
    usage();
    return 2;
  }
  std::string err;
  // Before any credential is read: no core file, no ptrace by the same user.
  if (!bastion::disable_core_dumps(err)) {
    std::fprintf(stderr, "bastiond: %s\n", err.c_str());
    return 1;
  }
  auto cfg = bastion::load_config(config, err, kinds);
  if (!cfg) {
    std::fprintf(stderr, "bastiond: %s\n", err.c_str());
    return 1;
  }
  if (check) {
    auto problems = bastion::check_config_files(*cfg);
    for (auto& p : bastion::run_as_problems(*cfg)) problems.push_back(std::move(p));
    for (const auto& w : bastion::check_config_warnings(*cfg)) std::fprintf(stderr, "bastiond: warning: %s\n", w.c_str());
    if (const auto pin = bastion::audit_key_pin_warning(cfg->audit_signing_key, cfg->audit_key_fingerprint))
      std::fprintf(stderr, "bastiond: warning: %s\n", pin->c_str());
    for (const auto& p : problems) std::fprintf(stderr, "bastiond: %s\n", p.c_str());
    if (!problems.empty()) return 1;
    std::printf("%s: OK (%zu targets, %zu CA keys)\n", config.c_str(), cfg->targets.size(),
                cfg->user_cas.size());
    return 0;
  }
  bastion::log_setup(cfg->log_format, cfg->log_level);
  ssh_init();
  const int rc = bastion::run_server(cfg, kinds);
  ssh_finalize();
  return rc;
}

}  // namespace bastion
