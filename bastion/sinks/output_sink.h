// Where filtered output ends up: the client, the recording, the audit counters.
#pragma once
#include <string_view>

namespace bastion {

// out/err: terminal output. wire: protocol bytes a proxy relays (the
// client gets them as stdout; no text filter or recording touches them:
// the proxy masked values per column already). record: what only the
// recording gets (a proxy's per-statement summary).
enum class Stream { out, err, wire, record };
// Whether text filters (output masks) and the recording see this stream.
inline bool is_terminal_stream(Stream s) { return s == Stream::out || s == Stream::err; }

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void write(Stream s, std::string_view data) = 0;
};

}  // namespace bastion
