// Where filtered output ends up: the client, the recording, the audit counters.
#pragma once
#include <string_view>

namespace bastion {

enum class Stream { out, err };

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void write(Stream s, std::string_view data) = 0;
};

}  // namespace bastion
