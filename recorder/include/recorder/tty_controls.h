// The auditor's terminal while a recording plays with controls: keys read one
// at a time and never echoed, and the terminal given back as it was, also
// when the player is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT arrive
// through a signalfd, so no handler and no global state are needed).
#pragma once
#include <csignal>
#include <optional>

#include <termios.h>

namespace recorder {

// Key-at-a-time, no echo, no signals from keys (Ctrl-C is read as a key);
// output processing is left as it was. Restores the saved mode on
// destruction. active() is false when `fd` is not a terminal.
class TermiosGuard {
 public:
  explicit TermiosGuard(int fd);
  ~TermiosGuard();
  TermiosGuard(const TermiosGuard&) = delete;
  TermiosGuard& operator=(const TermiosGuard&) = delete;
  bool active() const { return saved_.has_value(); }

 private:
  int fd_;
  std::optional<termios> saved_;
};

// Blocks the terminating signals and makes them readable on fd(); the old
// mask comes back on destruction. After that, raise_again() ends the process
// with the signal's default action, as if it had never been caught.
class SignalWatch {
 public:
  SignalWatch();
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  int fd() const { return fd_; }
  // The signal waiting on fd(), or 0.
  int take();

 private:
  int fd_ = -1;
  sigset_t old_{};
};

[[noreturn]] void raise_again(int signo);

enum class PlayKey { none, pause, step, next_marker, prev_marker, quit };
PlayKey play_key(char c);

}  // namespace recorder
