#include "session/target_picker_executor.h"

#include <utility>

namespace bastion {

TargetPickerExecutor::TargetPickerExecutor(std::vector<std::string> targets, int rows)
    : picker_(std::move(targets), rows) {
  redraw();
}

void TargetPickerExecutor::redraw() {
  // Only the latest screen matters: a full redraw replaces any not yet sent.
  pending_ = picker_.screen();
}

bool TargetPickerExecutor::write_input(std::string_view data) {
  if (picker_.done()) return false;
  picker_.feed(data);
  redraw();
  return true;
}

void TargetPickerExecutor::send_eof() {
  if (picker_.done()) return;
  picker_.feed("\x04");  // the client closed its input: as Ctrl-D
  redraw();
}

void TargetPickerExecutor::window_change(int, int rows) {
  picker_.resize(rows);
  if (!picker_.done()) redraw();
}

bool TargetPickerExecutor::pump_output(OutputWriter& out, std::size_t) {
  if (!pending_.empty()) out.write(Stream::out, std::exchange(pending_, {}));
  return true;  // the pipeline ends the picker, not the picker itself
}

}  // namespace bastion
