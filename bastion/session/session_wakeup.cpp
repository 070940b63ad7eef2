#include "session/session_wakeup.h"

#include <algorithm>
#include <cmath>

namespace bastion {
namespace {

int ms_until(double seconds) {
  if (seconds <= 0) return 0;
  const double ms = std::ceil(seconds * 1000.0);
  return ms >= kMaxSleepMs ? kMaxSleepMs : static_cast<int>(ms);
}

}  // namespace

int session_sleep_ms(const SessionDeadlines& d) {
  int ms = d.woken_by_others ? kMaxSleepMs : kUnwokenSleepMs;
  if (d.ended || d.mono_now - d.last_moved < kSettleSeconds) ms = std::min(ms, kPolledMs);
  if (d.channels_ms) ms = std::min(ms, std::max(0, *d.channels_ms));
  ms = std::min(ms, ms_until(static_cast<double>(d.cert_expiry) - d.unix_now));
  // The warning is due once, and only to running channels: a session with
  // none waits for expiry itself (or for a channel, which wakes it anyway).
  if (!d.expiry_warned && d.any_running)
    ms = std::min(ms, ms_until(static_cast<double>(d.cert_expiry - d.expiry_warning) - d.unix_now));
  if (d.next_grant_check) ms = std::min(ms, ms_until(static_cast<double>(*d.next_grant_check) - d.unix_now));
  if (d.max_session_length > 0) ms = std::min(ms, ms_until(d.started + d.max_session_length - d.mono_now));
  if (d.idle_timeout > 0) ms = std::min(ms, ms_until(d.last_activity + d.idle_timeout - d.mono_now));
  return ms;
}

}  // namespace bastion
