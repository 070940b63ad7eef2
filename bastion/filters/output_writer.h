// What an executor may do with the channel's output: write target output,
// nothing else. The OutputPipeline implements it, so an executor cannot add
// a sink, skip a filter or write a notice past the filters: "targets reach
// the client only through the filters" is enforced by the type.
#pragma once
#include <string>
#include <string_view>

#include "sinks/output_sink.h"

namespace bastion {

class OutputWriter {
 public:
  virtual ~OutputWriter() = default;
  virtual void write(Stream s, std::string data) = 0;
  // The same, from a read buffer the caller reuses: a writer that needs a
  // string of its own (to filter in place) makes it here.
  virtual void write_view(Stream s, std::string_view data) { write(s, std::string(data)); }
};

}  // namespace bastion
