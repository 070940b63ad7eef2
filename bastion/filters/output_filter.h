// Output filters transform target output before any sink sees it (masking
// lands here). A filter may hold back a tail to match across reads; flush()
// releases it at end of stream.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "filters/output_writer.h"
#include "sinks/output_sink.h"

namespace bastion {

class OutputFilter {
 public:
  virtual ~OutputFilter() = default;
  virtual void filter(Stream s, std::string& data) = 0;
  virtual void flush(Stream s, std::string& data) = 0;
  // True while output is held back waiting for more.
  virtual bool holding() const { return false; }
};

// Runs filters in order, then fans the result out to every sink. Targets and
// sessions write only through this, so masking and recording cannot be skipped.
class OutputPipeline : public OutputWriter {
 public:
  void add_filter(std::unique_ptr<OutputFilter> f) { filters_.push_back(std::move(f)); }
  void add_sink(OutputSink* s) { sinks_.push_back(s); }

  // Target output.
  void write(Stream s, std::string data) override {
    activity_ = true;
    if (!is_terminal_stream(s)) return deliver(s, data);  // text filters would corrupt protocol bytes
    for (auto& f : filters_) f->filter(s, data);
    if (command_filter_) command_filter_->filter(s, data);
    deliver(s, data);
  }
  // Without any filter (no mask applies) the bytes go to the sinks as read:
  // no copy per chunk. With one, they are copied for it to rewrite in place.
  void write_view(Stream s, std::string_view data) override {
    if (is_terminal_stream(s) && (!filters_.empty() || command_filter_)) return write(s, std::string(data));
    activity_ = true;
    deliver(s, data);
  }
  // A filter for one command inside the channel (a SQL statement's masks):
  // applies to the output written until end_command(), which releases what
  // it held back.
  void begin_command(std::unique_ptr<OutputFilter> f) {
    end_command();
    command_filter_ = std::move(f);
  }
  void end_command() {
    if (!command_filter_) return;
    for (Stream s : {Stream::out, Stream::err}) {
      std::string tail;
      command_filter_->flush(s, tail);  // already past the channel's filters
      deliver(s, tail);
    }
    command_filter_.reset();
  }
  // Whether output arrived since the last call (even if a filter holds it).
  bool take_activity() const {
    const bool a = activity_;
    activity_ = false;
    return a;
  }
  // The bastion's own notices: not filtered, but recorded like everything else.
  void notice(Stream s, const std::string& text) { deliver(s, text); }
  // Releases held-back output: at end of stream, or when output went quiet
  // (so a prompt without a newline still appears).
  void end_of_stream() {
    for (Stream s : {Stream::out, Stream::err}) {
      std::string tail;
      for (auto& f : filters_) f->flush(s, tail);
      if (command_filter_) command_filter_->flush(s, tail);
      deliver(s, tail);
    }
  }
  bool holding() const {
    for (const auto& f : filters_)
      if (f->holding()) return true;
    return command_filter_ && command_filter_->holding();
  }

 private:
  void deliver(Stream s, std::string_view data) {
    if (data.empty()) return;
    for (auto* sink : sinks_) sink->write(s, data);
  }
  std::vector<std::unique_ptr<OutputFilter>> filters_;
  std::unique_ptr<OutputFilter> command_filter_;
  std::vector<OutputSink*> sinks_;
  mutable bool activity_ = false;
};

}  // namespace bastion
