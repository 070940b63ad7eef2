#include "recorder/asciicast_player.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include <unistd.h>

namespace recorder {
namespace {

bool write_all(int fd, const std::string& s) {
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

}  // namespace

bool play_asciicast(const Asciicast& cast, int fd, const PlayOptions& opts) {
  double prev = 0;
  for (const auto& e : cast.events) {
    double gap = std::max(0.0, e.time - prev);
    prev = e.time;
    if (opts.idle_limit > 0) gap = std::min(gap, opts.idle_limit);
    if (opts.speed > 0) gap /= opts.speed;
    if (gap > 0) std::this_thread::sleep_for(std::chrono::duration<double>(gap));
    if (e.code == 'o') {
      if (!write_all(fd, e.data)) return false;
    } else if (e.code == 'm' && opts.show_markers) {
      const std::string text = opts.marker_text ? opts.marker_text(e.data) : e.data;
      if (!write_all(fd, "\r\n\x1b[7m[marker] " + text + "\x1b[0m\r\n")) return false;
    }
  }
  return true;
}

}  // namespace recorder
