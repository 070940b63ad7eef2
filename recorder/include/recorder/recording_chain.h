// Recomputes a recording's line chain (line_chain.h) from the file's bytes
// and compares it with digests the writer reported (signed checkpoints, the
// final digest). Works on any bytes: a tampered file is what it is for.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recorder/line_chain.h"

namespace recorder {

struct ChainScan {
  ChainState file;                  // over the file's complete lines
  std::string last_line_digest;     // SHA-256 of its last complete line
  uint64_t partial_bytes = 0;       // bytes after the last '\n' (a cut mid-line, or junk)
  // For each point asked about: the file's chain at that event count equals it
  // (same events, bytes and digest). False also when the file is shorter.
  std::vector<bool> matches;
  // The first line (1 = header) whose time is earlier than the line before it.
  std::optional<uint64_t> out_of_order_line;
  // For each point: the recording time (s) of the file's event number
  // points[i].events (0 for the header), nullopt when the file has fewer
  // events or that line has no time. Says where an edit is.
  std::vector<std::optional<double>> point_times;
  std::optional<double> last_time;  // of the last event line with a time
  uint64_t last_untimed_event = 0;  // the last event line without a time (0: none)
};

// Scans a file as it is read, a chunk at a time. Each line is hashed as it
// streams in (into the chain and on its own, for the last line's digest);
// only its length and first bytes (its time) are kept, so a line of a GiB
// costs what a short one does.
class ChainScanner {
 public:
  explicit ChainScanner(std::vector<ChainState> points);
  ~ChainScanner();
  ChainScanner(const ChainScanner&) = delete;
  ChainScanner& operator=(const ChainScanner&) = delete;
  void feed(std::string_view bytes);
  ChainScan finish();
  // Bytes of the current line held in memory (at most kPrefixBytes).
  std::size_t buffered() const { return prefix_.size(); }
  // Enough for "[SECONDS," (an event time is at most 32 characters).
  static constexpr std::size_t kPrefixBytes = 40;

 private:
  struct Hash;
  void begin_line();
  void end_line();
  std::vector<ChainState> points_;
  ChainScan scan_;
  std::unique_ptr<Hash> hash_;
  unsigned char head_[32] = {};
  uint64_t lines_ = 0, bytes_ = 0;
  bool in_line_ = false;
  uint64_t line_bytes_ = 0;  // of the line not yet ended
  std::string prefix_;       // its first kPrefixBytes
  std::optional<double> last_time_;
};

ChainScan scan_recording_chain(std::string_view content, const std::vector<ChainState>& points);

}  // namespace recorder
