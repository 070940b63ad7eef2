// systemd's notify protocol (Type=notify) through libsystemd's sd_notify:
// READY=1 once listening, RELOADING=1 then READY=1 around a reload, STATUS=
// lines, STOPPING=1. A no-op when NOTIFY_SOCKET is not set.
#pragma once
#include <string>

namespace bastion {

void notify_ready(const std::string& status);
void notify_reloading();
void notify_reloaded(const std::string& status);
void notify_stopping();

}  // namespace bastion
