// Where finished asciicast lines go. Implementations decide how and when the
// bytes reach storage; the writer only hands over whole lines.
#pragma once
#include <string>

#include "recorder/line_chain.h"

namespace recorder {

class LineSink {
 public:
  virtual ~LineSink() = default;
  // Takes one complete line (ending in '\n'). Must not block on slow storage.
  virtual void write_line(std::string line) = 0;
  // True once any write failed; the recording is then incomplete.
  virtual bool failed() const = 0;
  virtual std::string error() const = 0;
  // Flushes everything and closes; idempotent.
  virtual void close() = 0;
  // A sink may extend the lines' hash chain itself, where it stores them
  // (AsyncFileSink: on the flusher's thread, off the producer's path). Then
  // chain() flushes and gives the chain over every line handed over so far.
  virtual bool chains_lines() const { return false; }
  virtual void chain(ChainState& /*state*/, std::string& /*last_line_digest*/) {}
};

}  // namespace recorder
