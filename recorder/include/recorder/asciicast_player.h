// Replays a recording to a file descriptor with its original timing, through
// a TerminalQueryFilter (nothing recorded can make the auditor's terminal
// answer). With a key descriptor it takes controls: space pauses and
// resumes, '.' steps one event while paused, 'n'/'p' jump to the next or
// previous command marker ("m" event), 'q' (or Ctrl-C, Ctrl-D) quits.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "recorder/asciicast_reader.h"
#include "recorder/tty_controls.h"

namespace recorder {

struct PlayOptions {
  double speed = 1.0;       // > 1 plays faster
  double idle_limit = 2.0;  // longest pause kept, seconds (0: keep all)
  bool show_markers = false;
  // Markers are the bastion's notes (the exec command, the decision and its
  // reason): text a user controls, shown by the caller's escaping function
  // (bastionctl: display_escape). Unset: shown as recorded.
  std::function<std::string(std::string_view)> marker_text;
};

// Plays straight through. Returns false on a write error.
bool play_asciicast(const Asciicast& cast, int fd, const PlayOptions& opts);

enum class PlayEnd { finished, quit, write_failed, signalled };
struct PlayOutcome {
  PlayEnd end = PlayEnd::finished;
  int signo = 0;  // PlayEnd::signalled
};

// Plays with controls read from `key_fd` (already key-at-a-time: a
// TermiosGuard); stops when one of `signals` (may be null) arrives.
PlayOutcome play_asciicast_controlled(const Asciicast& cast, int out_fd, int key_fd, SignalWatch* signals,
                                      const PlayOptions& opts);

// Written after a controlled play: modes a recording may have left on in the
// auditor's terminal (alternate screen, hidden cursor, mouse and focus
// reporting, bracketed paste, colours) back to their defaults.
inline constexpr std::string_view kTerminalRestore =
    "\x1b[?1049l\x1b[0m\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1004l\x1b[?2004l";

}  // namespace recorder
