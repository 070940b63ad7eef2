// Feeds output into the session's asciicast recording (stdout and stderr both
// become "o" events, as the user's terminal shows both). A channel without a
// pty is recorded with "\r\n" line ends (recorder/newline_translator.h): the
// writer does that itself when its header says crlf, so the two cannot differ.
#pragma once
#include "recorder/asciicast_writer.h"
#include "sinks/output_sink.h"

namespace bastion {

class RecorderSink : public OutputSink {
 public:
  explicit RecorderSink(recorder::AsciicastWriter* w) : w_(w) {}
  void write(Stream s, std::string_view data) override {
    if (s == Stream::wire) return;  // protocol bytes: their proxy records a summary (Stream::record)
    if (w_) last_ = w_->output(data);
  }
  void detach() { w_ = nullptr; }  // continue unrecorded (on_recording_failure = "continue")
  recorder::WriteResult last() const { return last_; }

 private:
  recorder::AsciicastWriter* w_;
  recorder::WriteResult last_ = recorder::WriteResult::ok;
};

// Counts bytes for the audit record.
class ByteCounterSink : public OutputSink {
 public:
  void write(Stream s, std::string_view data) override {
    if (s != Stream::record) bytes += data.size();
  }
  uint64_t bytes = 0;
};

}  // namespace bastion
