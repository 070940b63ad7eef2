#include "recorder/tty_controls.h"

#include <cerrno>
#include <cstdlib>

#include <sys/signalfd.h>
#include <unistd.h>

namespace recorder {
namespace {

// Signals left ignored by whoever started us (nohup) stay ignored.
sigset_t watched() {
  sigset_t s;
  sigemptyset(&s);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaddset(&s, sig);
  }
  return s;
}

}  // namespace

TermiosGuard::TermiosGuard(int fd) : fd_(fd) {
  termios t{};
  if (!::isatty(fd) || ::tcgetattr(fd, &t) != 0) return;
  saved_ = t;
  t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ECHONL | ISIG | IEXTEN);
  t.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (::tcsetattr(fd, TCSANOW, &t) != 0) saved_.reset();
}

TermiosGuard::~TermiosGuard() {
  if (saved_) ::tcsetattr(fd_, TCSANOW, &*saved_);
}

SignalWatch::SignalWatch() {
  const sigset_t s = watched();
  ::sigprocmask(SIG_BLOCK, &s, &old_);
  fd_ = ::signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
}

SignalWatch::~SignalWatch() {
  if (fd_ >= 0) ::close(fd_);
  ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

int SignalWatch::take() {
  signalfd_siginfo si{};
  if (fd_ < 0) return 0;
  const ssize_t n = ::read(fd_, &si, sizeof si);
  return n == static_cast<ssize_t>(sizeof si) ? static_cast<int>(si.ssi_signo) : 0;
}

void raise_again(int signo) {
  ::signal(signo, SIG_DFL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, signo);
  ::sigprocmask(SIG_UNBLOCK, &s, nullptr);
  ::raise(signo);
  std::_Exit(128 + signo);  // not reached unless the signal is ignored by the parent's disposition
}

PlayKey play_key(char c) {
  switch (c) {
    case ' ': return PlayKey::pause;
    case '.': return PlayKey::step;
    case 'n': return PlayKey::next_marker;
    case 'p': return PlayKey::prev_marker;
    case 'q':
    case 'Q':
    case '\x03':  // Ctrl-C (ISIG is off: it arrives as a key)
    case '\x04': return PlayKey::quit;
    default: return PlayKey::none;
  }
}

}  // namespace recorder
