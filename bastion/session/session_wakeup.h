// How long a session's loop may sleep in poll when nothing moved: until the
// nearest of its own deadlines, so an idle session costs no CPU (no
// periodic polling). What changes for every session at once (a reload,
// shutdown) wakes it through its WakeList::Waker instead.
#pragma once
#include <cstdint>
#include <optional>

namespace bastion {

struct SessionDeadlines {
  double mono_now = 0;        // monotonic seconds
  double unix_now = 0;        // wall-clock seconds, with their fraction
  int64_t cert_expiry = 0;    // unix seconds (certificate valid_before, clamped)
  int64_t expiry_warning = 60;  // seconds before expiry that running channels are told
  bool expiry_warned = false;
  bool any_running = false;   // a channel runs (the warning is told only then)
  std::optional<int64_t> next_grant_check;  // unix seconds; set while a grant lets the session in
  double started = 0;         // monotonic
  int max_session_length = 0;  // seconds; 0 = none
  double last_activity = 0;   // monotonic
  int idle_timeout = 0;       // seconds; 0 = none
  std::optional<int> channels_ms;  // the soonest any channel must be stepped again
  bool woken_by_others = true;     // false: no Waker (no eventfd), so reloads and shutdown are polled
  bool ended = false;              // the bastion ended the session: its grace and linger timers run
  double last_moved = -1e18;       // monotonic: something arrived or moved in the loop's last pass
};

// Sleeps are capped: the certificate deadlines are wall-clock times, and a
// clock that jumps forward is noticed within this long.
inline constexpr int kMaxSleepMs = 60'000;
// Without a Waker, a reload or shutdown is noticed within this long (as
// before deadlines were computed); also the poll of an ended session, and of
// one whose bytes moved less than kSettleSeconds ago: libssh takes in
// packets inside any call (a window adjust read while pumping the other
// way), which no descriptor then reports, so a few polled passes pick such
// work up before the session sleeps to its deadlines.
inline constexpr int kUnwokenSleepMs = 200;
inline constexpr int kPolledMs = 200;
inline constexpr double kSettleSeconds = 1.0;

// Milliseconds until the nearest deadline (rounded up, so the loop does
// not wake just before one and spin), within [0, kMaxSleepMs].
int session_sleep_ms(const SessionDeadlines& d);

}  // namespace bastion
