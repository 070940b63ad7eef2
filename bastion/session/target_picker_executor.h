// The target picker on a channel: an Executor the pipeline runs in place of
// a target's while the user picks (ChannelPipeline::start_picker). It draws
// the TargetPicker's screen and never ends by itself; the pipeline looks at
// picker() after each step and starts the chosen target or refuses.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "sources/target_picker.h"
#include "targets/target.h"

namespace bastion {

class TargetPickerExecutor : public Executor {
 public:
  TargetPickerExecutor(std::vector<std::string> targets, int rows);
  const TargetPicker& picker() const { return picker_; }

  std::size_t input_capacity() override { return picker_.done() ? 0 : 4096; }
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int cols, int rows) override;
  void send_signal(const std::string&) override {}
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override { return {}; }
  void close() override {}

 private:
  void redraw();

  TargetPicker picker_;
  std::string pending_;  // screen output not yet taken by the pipeline
};

}  // namespace bastion
