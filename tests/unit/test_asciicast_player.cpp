#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "recorder/asciicast_player.h"

using namespace recorder;

namespace {

// A pipe each way: the keys are all there before the player starts, so it
// acts on them in order at its first wait (the events are 100 s apart).
struct Rig {
  int keys[2] = {-1, -1};
  int out[2] = {-1, -1};
  Rig() {
    REQUIRE(::pipe(keys) == 0);
    REQUIRE(::pipe(out) == 0);
  }
  ~Rig() {
    for (const int fd : {keys[0], keys[1], out[0], out[1]})
      if (fd >= 0) ::close(fd);
  }
  std::string play(const Asciicast& cast, const std::string& typed, const PlayOptions& opts, PlayEnd& end) {
    REQUIRE(::write(keys[1], typed.data(), typed.size()) == static_cast<ssize_t>(typed.size()));
    end = play_asciicast_controlled(cast, out[1], keys[0], nullptr, opts).end;
    ::close(out[1]);
    out[1] = -1;
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    return got;
  }
};

Asciicast two_commands() {
  Asciicast c;
  c.events = {{100, 'm', "exec: one"}, {200, 'o', "A"},   {300, 'o', "B\x1b[6n"},
              {400, 'm', "exec: two"}, {500, 'o', "C"}, {600, 'o', "D"}};
  return c;
}

PlayOptions no_idle_limit() {
  PlayOptions o;
  o.idle_limit = 0;
  return o;
}

}  // namespace

TEST_CASE("player: space pauses, '.' steps one event, 'n' and 'p' jump between markers, 'q' quits", "[player]") {
  Rig rig;
  PlayEnd end{};
  const std::string out = rig.play(two_commands(), " .np q", no_idle_limit(), end);
  CHECK(end == PlayEnd::quit);
  // '.' shows A; 'n' shows what lies before marker two (B, its query
  // dropped); 'p' clears and redraws up to marker one; the space resumes, q quits at once.
  CHECK(out == "AB\x1b[0m\x1b[H\x1b[2J");
}

TEST_CASE("player: markers are shown when asked, 'n' past the last marker is ignored", "[player]") {
  Rig rig;
  PlayEnd end{};
  PlayOptions o = no_idle_limit();
  o.show_markers = true;
  const std::string out = rig.play(two_commands(), "nnnq", o, end);
  CHECK(end == PlayEnd::quit);
  CHECK(out == "\r\n\x1b[7m[marker] exec: one\x1b[0m\r\nAB\r\n\x1b[7m[marker] exec: two\x1b[0m\r\n");
}

TEST_CASE("player: keys are not needed to play to the end; queries never reach the output", "[player]") {
  Asciicast c;
  c.events = {{0.001, 'o', "x\x1b]11"}, {0.002, 'o', ";?\x07y\x1b[c"}, {0.003, 'o', "\x1b[1mz"}};
  Rig rig;
  PlayEnd end{};
  const std::string out = rig.play(c, "", PlayOptions{}, end);
  CHECK(end == PlayEnd::finished);
  CHECK(out == "xy\x1b[1mz");
}
