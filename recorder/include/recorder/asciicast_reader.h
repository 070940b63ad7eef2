// Reads asciicast v2 files written by AsciicastWriter (or any v2 file).
// A truncated last line (crash mid-write) is tolerated and reported.
#pragma once
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "recorder/asciicast_writer.h"

namespace recorder {

struct AsciicastEvent {
  double time = 0;
  char code = 'o';
  std::string data;  // decoded: exact recorded bytes for "o" when a "b" event followed
};

struct Asciicast {
  AsciicastHeader header;
  std::vector<AsciicastEvent> events;
  bool truncated = false;  // the last line was incomplete and ignored
};

// Returns nullopt and sets `error` ("line N: ...") on a malformed file.
std::optional<Asciicast> read_asciicast(std::istream& in, std::string& error);

// Concatenated output bytes, as the user saw them (as recorded).
std::string asciicast_output(const Asciicast& cast);

// The exact bytes the target sent: the output with the header's newline
// translation undone ("b" events already give the exact recorded bytes).
// Nullopt and `error` when the file contradicts its header.
std::optional<std::string> asciicast_raw_output(const Asciicast& cast, std::string& error);

}  // namespace recorder
