// An exception barrier for code called from C (libssh callbacks) and for the
// top of a connection's thread: an exception there would unwind through C
// frames or reach std::terminate, ending every user's session.
#pragma once
#include <exception>
#include <string>

#include "common/log.h"

namespace bastion {

// Runs f and returns its result. An exception is logged as "internal error"
// (with `peer`, `where` and what()) and `refusal` is returned instead, so
// the caller refuses the one request (or ends the one connection).
template <typename R, typename F>
R guarded(const std::string& peer, const char* where, R refusal, F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    log_error("internal error", {{"peer", peer}, {"in", where}, {"error", e.what()}});
  } catch (...) {
    log_error("internal error", {{"peer", peer}, {"in", where}, {"error", "unknown exception"}});
  }
  return refusal;
}

}  // namespace bastion
