#include "sources/target_picker.h"

#include <algorithm>
#include <cctype>

#include "common/display_escape.h"

namespace bastion {
namespace {
constexpr std::size_t kMaxFilter = 64;
constexpr int kHeaderRows = 3;  // title, filter, blank line

bool contains_ci(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         }) != hay.end();
}
}  // namespace

TargetPicker::TargetPicker(std::vector<std::string> targets, int rows) : targets_(std::move(targets)), rows_(rows) {
  std::sort(targets_.begin(), targets_.end());
  targets_.erase(std::unique(targets_.begin(), targets_.end()), targets_.end());
  refilter();
}

void TargetPicker::resize(int rows) { rows_ = rows; }

void TargetPicker::refilter() {
  matches_.clear();
  for (const auto& t : targets_)
    if (contains_ci(t, filter_)) matches_.push_back(t);
  selected_ = 0;
}

void TargetPicker::move(int delta) {
  if (matches_.empty()) return;
  if (delta < 0 && selected_ > 0) --selected_;
  if (delta > 0 && selected_ + 1 < matches_.size()) ++selected_;
}

void TargetPicker::feed(std::string_view keys) {
  for (std::size_t i = 0; i < keys.size() && !done(); ++i) {
    const char c = keys[i];
    if (c == '\x1b') {
      // ESC [ X / ESC O X (arrows), ESC [ ... final (others, ignored).
      if (i + 1 >= keys.size() || (keys[i + 1] != '[' && keys[i + 1] != 'O')) {
        quit_ = true;
        return;
      }
      std::size_t j = i + 2;
      while (j < keys.size() && !(keys[j] >= 0x40 && keys[j] <= 0x7e)) ++j;
      if (j >= keys.size()) return;  // cut short: ignored
      if (keys[j] == 'A') move(-1);
      if (keys[j] == 'B') move(+1);
      i = j;
    } else if (c == '\r' || c == '\n') {
      if (!matches_.empty()) chosen_ = matches_[selected_];
    } else if (c == '\x03' || c == '\x04') {
      quit_ = true;
    } else if (c == '\x7f' || c == '\b') {
      if (!filter_.empty()) filter_.pop_back(), refilter();
    } else if (c == '\x15') {
      filter_.clear(), refilter();
    } else if (c == 'q' && filter_.empty()) {
      quit_ = true;
    } else if (c > 0x20 && c < 0x7f && filter_.size() < kMaxFilter) {
      filter_ += c, refilter();
    }
  }
}

std::string TargetPicker::screen() const {
  std::string s = "\x1b[H\x1b[2J";
  if (done()) return s;
  s += "bastion: pick a target (type to filter, arrows move, Enter connects, Esc quits)\r\n";
  s += "filter: " + filter_ + "\r\n\r\n";
  if (matches_.empty()) return s + "  (no target matches)\r\n";
  const std::size_t window = static_cast<std::size_t>(std::max(1, rows_ - kHeaderRows - 1));
  const std::size_t first = selected_ >= window ? selected_ - window + 1 : 0;
  for (std::size_t k = first; k < matches_.size() && k < first + window; ++k)
    s += (k == selected_ ? "> " : "  ") + display_escape(matches_[k]) + "\r\n";
  return s;
}

}  // namespace bastion
