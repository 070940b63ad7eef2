// Replays a recording to a file descriptor with its original timing.
#pragma once
#include "recorder/asciicast_reader.h"

namespace recorder {

struct PlayOptions {
  double speed = 1.0;       // > 1 plays faster
  double idle_limit = 2.0;  // longest pause kept, seconds (0: keep all)
  bool show_markers = false;
};

// Writes output events to `fd`, sleeping between them. Returns false on a write error.
bool play_asciicast(const Asciicast& cast, int fd, const PlayOptions& opts);

}  // namespace recorder
