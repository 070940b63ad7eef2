// The listener: binds, accepts, and gives each connection a thread. Signals
// arrive through a signalfd in the same poll: SIGHUP reloads the config
// (refusing a broken one), SIGTERM/SIGINT stop accepting and end sessions.
#pragma once
#include <memory>
#include <string>

#include "config/config.h"

namespace bastion {

// Runs until SIGTERM/SIGINT. Returns the process exit status.
int run_server(std::shared_ptr<const Config> cfg);

}  // namespace bastion
