#include "recorder/asciicast_player.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <ctime>
#include <string>
#include <vector>

#include "recorder/terminal_query_filter.h"
#include "recorder/tty_controls.h"

namespace recorder {
namespace {

using Clock = std::chrono::steady_clock;

bool write_all(int fd, std::string_view s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Clears the screen before a backward jump redraws from the start.
constexpr std::string_view kRedraw = "\x1b[0m\x1b[H\x1b[2J";

class Player {
 public:
  Player(const Asciicast& cast, int out, int keys, SignalWatch* signals, const PlayOptions& o)
      : ev_(cast.events), out_(out), keys_(keys), signals_(signals), o_(o) {}

  PlayOutcome run() {
    bool paused = false;
    double remaining = gap(0);  // seconds left before event pos_
    while (pos_ < ev_.size()) {
      const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(remaining));
      const double left = paused ? -1 : std::max(0.0, seconds_until(deadline));
      if (left != 0 || keys_ >= 0 || signals_) {  // with controls, keys are looked at between any two events
        const Woken w = wait(left);
        if (w == Woken::signal) return {PlayEnd::signalled, signo_};
        if (!paused) remaining = std::max(0.0, seconds_until(deadline));
        if (w == Woken::nothing) continue;
        if (w == Woken::key) {
          switch (next_key()) {
            case PlayKey::quit: return {PlayEnd::quit, 0};
            case PlayKey::pause: paused = !paused; break;
            case PlayKey::step:
              if (!paused) break;
              if (!show_through(next_visible())) return {PlayEnd::write_failed, 0};
              remaining = gap(pos_);
              break;
            case PlayKey::next_marker: {
              const auto m = next_marker();
              if (m == ev_.size()) break;
              if (!show_through(m)) return {PlayEnd::write_failed, 0};
              remaining = gap(pos_);
              break;
            }
            case PlayKey::prev_marker:
              if (!jump_back()) return {PlayEnd::write_failed, 0};
              remaining = gap(pos_);
              break;
            case PlayKey::none: break;
          }
          continue;
        }
        if (paused) continue;
      }
      if (!show_through(pos_)) return {PlayEnd::write_failed, 0};
      remaining = gap(pos_);
    }
    std::string tail;
    filter_.finish(tail);
    return write_all(out_, tail) ? PlayOutcome{} : PlayOutcome{PlayEnd::write_failed, 0};
  }

 private:
  static double seconds_until(Clock::time_point t) {
    return std::chrono::duration<double>(t - Clock::now()).count();
  }

  // Seconds to wait before event i, after event i-1.
  double gap(std::size_t i) const {
    if (i >= ev_.size()) return 0;
    double g = std::max(0.0, ev_[i].time - (i ? ev_[i - 1].time : 0.0));
    if (o_.idle_limit > 0) g = std::min(g, o_.idle_limit);
    if (o_.speed > 0) g /= o_.speed;
    return g;
  }

  bool visible(const AsciicastEvent& e) const { return e.code == 'o' || (e.code == 'm' && o_.show_markers); }

  void render(const AsciicastEvent& e, std::string& out) {
    if (e.code == 'o') {
      filter_.feed(e.data, out);
    } else if (e.code == 'm' && o_.show_markers) {
      out += "\r\n\x1b[7m[marker] ";
      out += o_.marker_text ? o_.marker_text(e.data) : e.data;
      out += "\x1b[0m\r\n";
    }
  }

  // Shows events pos_..last at once and moves past them.
  bool show_through(std::size_t last) {
    std::string out;
    for (; pos_ <= last && pos_ < ev_.size(); ++pos_) render(ev_[pos_], out);
    return write_all(out_, out);
  }

  std::size_t next_visible() const {
    std::size_t i = pos_;
    while (i < ev_.size() && !visible(ev_[i])) ++i;
    return i;
  }

  std::size_t next_marker() const {
    std::size_t i = pos_;
    while (i < ev_.size() && ev_[i].code != 'm') ++i;
    return i;
  }

  // The marker before the one whose command is showing; the start if none.
  bool jump_back() {
    std::size_t current = pos_;
    while (current > 0 && ev_[current - 1].code != 'm') --current;
    std::size_t target = current > 0 ? current - 1 : 0;  // index after: marker current-1 is showing
    while (target > 0 && ev_[target - 1].code != 'm') --target;
    filter_ = TerminalQueryFilter{};
    pos_ = 0;
    if (!write_all(out_, kRedraw)) return false;
    return target == 0 ? true : show_through(target - 1);
  }

  enum class Woken { time_up, key, signal, nothing };

  Woken wait(double seconds) {
    if (!keybuf_.empty()) return Woken::key;
    pollfd fds[2];
    nfds_t n = 0;
    if (keys_ >= 0) fds[n++] = {keys_, POLLIN, 0};
    const int sig_fd = signals_ ? signals_->fd() : -1;
    if (sig_fd >= 0) fds[n++] = {sig_fd, POLLIN, 0};
    timespec ts{};
    const timespec* timeout = nullptr;
    if (seconds >= 0) {
      ts.tv_sec = static_cast<time_t>(seconds);
      ts.tv_nsec = static_cast<long>((seconds - std::floor(seconds)) * 1e9);
      timeout = &ts;
    }
    const int r = ::ppoll(n ? fds : nullptr, n, timeout, nullptr);
    if (r < 0) return Woken::nothing;  // EINTR (SIGWINCH, SIGCONT): wait again
    if (r == 0) return Woken::time_up;
    if (sig_fd >= 0 && fds[n - 1].revents) {
      signo_ = signals_->take();
      if (signo_) return Woken::signal;
    }
    if (keys_ >= 0 && fds[0].revents) {
      char buf[64];
      const ssize_t got = ::read(keys_, buf, sizeof buf);
      if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) keys_ = -1;  // no more keys: play on
      // An escape sequence (an arrow key, a mouse report) is ignored whole.
      for (ssize_t i = 0; i < got && buf[i] != '\x1b'; ++i) keybuf_ += buf[i];
    }
    return keybuf_.empty() ? Woken::nothing : Woken::key;
  }

  PlayKey next_key() {
    const char c = keybuf_.front();
    keybuf_.erase(0, 1);
    return play_key(c);
  }

  const std::vector<AsciicastEvent>& ev_;
  int out_, keys_;
  SignalWatch* signals_;
  std::string keybuf_;  // keys read, not yet acted on
  const PlayOptions& o_;
  TerminalQueryFilter filter_;
  std::size_t pos_ = 0;
  int signo_ = 0;
};

}  // namespace

bool play_asciicast(const Asciicast& cast, int fd, const PlayOptions& opts) {
  return Player(cast, fd, -1, nullptr, opts).run().end == PlayEnd::finished;
}

PlayOutcome play_asciicast_controlled(const Asciicast& cast, int out_fd, int key_fd, SignalWatch* signals,
                                      const PlayOptions& opts) {
  return Player(cast, out_fd, key_fd, signals, opts).run();
}

}  // namespace recorder
