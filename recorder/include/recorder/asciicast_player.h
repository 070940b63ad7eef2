// Replays a recording to a file descriptor with its original timing.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "recorder/asciicast_reader.h"

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

// Writes output events to `fd`, sleeping between them. Returns false on a write error.
bool play_asciicast(const Asciicast& cast, int fd, const PlayOptions& opts);

}  // namespace recorder
