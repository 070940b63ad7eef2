#include "front/systemd_notify.h"

#include <ctime>

#include <systemd/sd-daemon.h>

namespace bastion {
namespace {

// STATUS= is one line: anything after a newline would read as another field.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

void send(const std::string& msg) { sd_notify(0, msg.c_str()); }

}  // namespace

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + one_line(status)); }

void notify_reloading() {
  // MONOTONIC_USEC is what systemd 253's Type=notify-reload also asks for.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long usec =
      static_cast<unsigned long long>(ts.tv_sec) * 1000000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000ull;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading the config");
}

void notify_reloaded(const std::string& status) { send("READY=1\nSTATUS=" + one_line(status)); }

void notify_stopping() { send("STOPPING=1\nSTATUS=shutting down"); }

}  // namespace bastion
