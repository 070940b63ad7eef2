#include <catch2/catch.hpp>

#include "session/session_wakeup.h"

using namespace bastion;

namespace {

// An idle session: certificate valid for a day, no limits, nothing pending.
SessionDeadlines idle() {
  SessionDeadlines d;
  d.mono_now = 1000.0;
  d.unix_now = 1'700'000'000.25;
  d.cert_expiry = 1'700'086'400;
  d.started = 1000.0;
  d.last_activity = 1000.0;
  return d;
}

}  // namespace

TEST_CASE("an idle session with nothing due sleeps the longest sleep", "[session][wakeup]") {
  CHECK(session_sleep_ms(idle()) == kMaxSleepMs);
}

TEST_CASE("without a waker a session still notices reloads and shutdown within 200 ms", "[session][wakeup]") {
  auto d = idle();
  d.woken_by_others = false;
  CHECK(session_sleep_ms(d) == kUnwokenSleepMs);
}

TEST_CASE("the idle timeout and the maximum session length are slept to exactly", "[session][wakeup]") {
  auto d = idle();
  d.idle_timeout = 30;
  d.last_activity = 990.5;  // due at 1020.5
  CHECK(session_sleep_ms(d) == 20'500);
  d.max_session_length = 12;  // due at 1012
  CHECK(session_sleep_ms(d) == 12'000);
  d.mono_now = 1012.0004;  // past it: at once, never negative
  CHECK(session_sleep_ms(d) == 0);
}

TEST_CASE("sleeps round up, so the loop never wakes just before a deadline and spins", "[session][wakeup]") {
  auto d = idle();
  d.idle_timeout = 10;
  d.mono_now = 1009.9991;  // 0.9 ms left
  CHECK(session_sleep_ms(d) == 1);
}

TEST_CASE("certificate expiry is slept to with the wall clock's fraction", "[session][wakeup]") {
  auto d = idle();
  d.cert_expiry = 1'700'000'010;  // 9.75 s after unix_now
  CHECK(session_sleep_ms(d) == 9'750);
  d.cert_expiry = 1'700'000'000;  // already expired
  CHECK(session_sleep_ms(d) == 0);
}

TEST_CASE("the expiry warning is due only while a channel runs and only once", "[session][wakeup]") {
  auto d = idle();
  d.cert_expiry = 1'700'000'100;  // warning due at ..040, 39.75 s away
  CHECK(session_sleep_ms(d) == kMaxSleepMs);  // nothing runs: only expiry (99.75 s, capped)
  d.any_running = true;
  CHECK(session_sleep_ms(d) == 39'750);
  d.expiry_warned = true;
  CHECK(session_sleep_ms(d) == kMaxSleepMs);
  // Past the warning time with nothing running: not 0, or the loop would spin.
  d.expiry_warned = false;
  d.any_running = false;
  d.unix_now = 1'700'000'050.0;
  CHECK(session_sleep_ms(d) == 50'000);
}

TEST_CASE("a session on an access grant rechecks it when due", "[session][wakeup]") {
  auto d = idle();
  d.next_grant_check = 1'700'000'002;
  CHECK(session_sleep_ms(d) == 1'750);
}

TEST_CASE("channels' own waits come first, and are never negative", "[session][wakeup]") {
  auto d = idle();
  d.channels_ms = 50;
  CHECK(session_sleep_ms(d) == 50);
  d.channels_ms = -3;
  CHECK(session_sleep_ms(d) == 0);
  d.channels_ms = 200;
  d.idle_timeout = 1;  // due in 1 s; the channel is sooner
  CHECK(session_sleep_ms(d) == 200);
}

TEST_CASE("a certificate valid for ever does not overflow the sleep", "[session][wakeup]") {
  auto d = idle();
  d.cert_expiry = INT64_MAX;
  d.any_running = true;
  CHECK(session_sleep_ms(d) == kMaxSleepMs);
}

TEST_CASE("a session polls for a second after bytes last moved, then sleeps to its deadlines", "[session][wakeup]") {
  auto d = idle();
  d.last_moved = 999.5;  // half a second ago
  CHECK(session_sleep_ms(d) == kPolledMs);
  d.channels_ms = 3;  // sooner still
  CHECK(session_sleep_ms(d) == 3);
  d.channels_ms.reset();
  d.last_moved = 998.9;  // 1.1 s ago: settled
  CHECK(session_sleep_ms(d) == kMaxSleepMs);
}

TEST_CASE("an ended session polls its grace and linger timers", "[session][wakeup]") {
  auto d = idle();
  d.ended = true;
  CHECK(session_sleep_ms(d) == kPolledMs);
}
