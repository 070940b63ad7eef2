// The listener: binds, accepts, and gives each connection a thread. Signals
// arrive through a signalfd in the same poll: SIGHUP reloads the config
// (refusing a broken one), SIGTERM/SIGINT stop accepting and end sessions.
#pragma once
#include <memory>
#include <string>

#include "config/config.h"
#include "targets/target_kind.h"

namespace bastion {

// Runs until SIGTERM/SIGINT. Returns the process exit status. `cfg` was
// loaded with `kinds`, which reloads use too.
int run_server(std::shared_ptr<const Config> cfg, const TargetKinds& kinds);

// bastiond's command line (--config, --check, --version) with these target
// kinds: the daemon's main, and a test daemon's with a kind of its own.
int bastiond_main(int argc, char** argv, const TargetKinds& kinds);

}  // namespace bastion
