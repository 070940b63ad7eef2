// Feeds output into the session's asciicast recording (stdout and stderr both
// become "o" events, as the user's terminal shows both). A channel without a
// pty is recorded with "\r\n" line ends (recorder/newline_translator.h); the
// writer's header must say the same.
#pragma once
#include "recorder/asciicast_writer.h"
#include "recorder/newline_translator.h"
#include "sinks/output_sink.h"

namespace bastion {

class RecorderSink : public OutputSink {
 public:
  explicit RecorderSink(recorder::AsciicastWriter* w,
                        recorder::OutputNewlines newlines = recorder::OutputNewlines::raw)
      : w_(w), newlines_(newlines) {}
  void write(Stream, std::string_view data) override {
    if (!w_) return;
    last_ = newlines_ == recorder::OutputNewlines::crlf ? w_->output(recorder::lf_to_crlf(data))
                                                        : w_->output(data);
  }
  void detach() { w_ = nullptr; }  // continue unrecorded (on_recording_failure = "continue")
  recorder::WriteResult last() const { return last_; }

 private:
  recorder::AsciicastWriter* w_;
  recorder::OutputNewlines newlines_;
  recorder::WriteResult last_ = recorder::WriteResult::ok;
};

// Counts bytes for the audit record.
class ByteCounterSink : public OutputSink {
 public:
  void write(Stream, std::string_view data) override { bytes += data.size(); }
  uint64_t bytes = 0;
};

}  // namespace bastion
