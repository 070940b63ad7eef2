// An executor whose whole output is a text the bastion made (e.g. the
// kubeconfig for a user's own kubectl): it still goes through the
// channel's output filters like any target output, then exits 0.
#pragma once
#include <string>

#include "targets/target.h"

namespace bastion {

class TextExecutor : public Executor {
 public:
  explicit TextExecutor(std::string text) : text_(std::move(text)) {}
  std::size_t input_capacity() override { return 1 << 16; }  // input is read and dropped
  bool write_input(std::string_view) override { return true; }
  void send_eof() override {}
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  bool pump_output(OutputWriter& out, std::size_t budget) override {
    const std::size_t n = std::min(budget, text_.size() - sent_);
    if (n > 0) out.write(Stream::out, text_.substr(sent_, n));
    sent_ += n;
    if (sent_ < text_.size()) return true;
    exit_.status = 0;
    return false;
  }
  ExitInfo exit_info() const override { return exit_; }
  void close() override {}

 private:
  std::string text_;
  std::size_t sent_ = 0;
  ExitInfo exit_;
};

}  // namespace bastion
