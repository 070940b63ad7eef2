// Queues output for the client channel. The session drains it as the
// client's SSH window allows; while it is above kHighWater the session stops
// reading from the target, so a slow client slows only its own target.
#pragma once
#include <string>

#include "sinks/output_sink.h"

namespace bastion {

class ClientSink : public OutputSink {
 public:
  static constexpr std::size_t kHighWater = 256 * 1024;

  void write(Stream s, std::string_view data) override {
    if (s == Stream::record) return;  // for the recording only
    (s == Stream::err ? err_ : out_).append(data);
  }
  std::string& pending(Stream s) { return s == Stream::out ? out_ : err_; }
  std::size_t pending_bytes() const { return out_.size() + err_.size(); }
  bool full() const { return pending_bytes() >= kHighWater; }
  // Gives back the queues' memory once drained: a burst of output grows them
  // to kHighWater and more, which an idle session need not keep holding.
  void trim() {
    for (std::string* q : {&out_, &err_})
      if (q->empty()) std::string().swap(*q);
  }

 private:
  std::string out_, err_;
};

}  // namespace bastion
