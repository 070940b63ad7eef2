// A recorder LineSink that appends every line to a string: what a writer
// would have put in the file, for tests to compare.
#pragma once
#include <string>

#include "recorder/line_sink.h"

namespace testutil {

class MemorySink : public recorder::LineSink {
 public:
  explicit MemorySink(std::string& out) : out_(out) {}
  void write_line(std::string line) override { out_ += line; }
  bool failed() const override { return false; }
  std::string error() const override { return {}; }
  void close() override {}

 private:
  std::string& out_;
};

}  // namespace testutil
