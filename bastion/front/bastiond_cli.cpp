// bastiond's command line: --config, --check, --version, --help.
#include <cstdio>
#include <cstring>
#include <string>

#include <libssh/libssh.h>

#include "audit/audit_signer.h"
#include "audit/config_policy_store.h"
#include "common/log.h"
#include "config/config.h"
#include "config/config_check.h"
#include "front/privileges.h"
#include "front/server.h"

namespace {
constexpr const char* kUsage =
    "usage: bastiond --config FILE [--check]\n"
    "       bastiond --version\n"
    "       bastiond --help\n"
    "\n"
    "  -f, --config FILE  the configuration (bastion.conf(5))\n"
    "  -t, --check        load and check FILE (keys, policies, targets), print OK or each problem, exit\n"
    "      --version      print the version and exit\n"
    "  -h, --help         print this help and exit\n";

// Asked for: stdout, exit 0. A mistake: stderr, with what was wrong, exit 2.
int usage_error(const std::string& why) {
  std::fprintf(stderr, "bastiond: %s\n%s", why.c_str(), kUsage);
  return 2;
}
}  // namespace

namespace bastion {

int bastiond_main(int argc, char** argv, const TargetKinds& kinds) {
  std::string config;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" || a == "-f") {
      if (i + 1 >= argc) return usage_error(a + " needs a FILE");
      config = argv[++i];
    } else if (a == "--check" || a == "-t") {
      check = true;
    } else if (a == "--version") {
      std::printf("bastiond %s (libssh %s)\n", BASTION_VERSION, ssh_version(0));
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      return usage_error("unknown option " + a);
    }
  }
  if (config.empty()) return usage_error("--config FILE is required");
  std::string err;
  // Before any credential is read: no core file, no ptrace by the same user.
  if (!bastion::disable_core_dumps(err)) {
    std::fprintf(stderr, "bastiond: %s\n", err.c_str());
    return 1;
  }
  // A configuration naming the shared policy store (`policy = "store:NAME"`):
  // --check reads the store now; the daemon reads it once it has opened its
  // store, after dropping privileges (run_server), failing to start without it.
  std::shared_ptr<const bastion::Config> cfg;
  if (check) {
    cfg = bastion::load_config_reading_policy_store(config, err, kinds, true);
  } else {
    cfg = bastion::load_config(config, err, kinds, false);
    if (cfg && cfg->store_policies.empty()) cfg = bastion::load_config(config, err, kinds);
  }
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
