#include "recorder/recording_chain.h"

#include <cstdlib>

namespace recorder {
namespace {

// An event line starts "[SECONDS,": its time, or nullopt for anything else
// (the header, a line that is not an event).
std::optional<double> event_time(std::string_view line) {
  if (line.size() < 3 || line[0] != '[') return std::nullopt;
  const std::size_t comma = line.find(',');
  if (comma == std::string_view::npos || comma > 32) return std::nullopt;
  const std::string num(line.substr(1, comma - 1));
  char* end = nullptr;
  const double t = std::strtod(num.c_str(), &end);
  if (end == num.c_str() || *end != '\0') return std::nullopt;
  return t;
}

}  // namespace

ChainScanner::ChainScanner(std::vector<ChainState> points) : points_(std::move(points)) {
  scan_.matches.assign(points_.size(), false);
  scan_.point_times.assign(points_.size(), std::nullopt);
}

void ChainScanner::line(std::string_view l) {
  chain_.add(l);
  std::optional<double> t = 0.0;  // the header is at 0
  if (chain_.lines() > 1) {
    t = event_time(l);
    if (t && last_time_ && *t < *last_time_ && !scan_.out_of_order_line) scan_.out_of_order_line = chain_.lines();
    if (t) last_time_ = scan_.last_time = t;
    else scan_.last_untimed_event = chain_.lines() - 1;
  }
  const ChainState now = chain_.state();
  for (std::size_t i = 0; i < points_.size(); ++i) {
    if (points_[i].events != now.events) continue;
    scan_.point_times[i] = t;
    if (points_[i].bytes == now.bytes && points_[i].digest == now.digest) scan_.matches[i] = true;
  }
}

void ChainScanner::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      return;
    }
    if (partial_.empty()) {
      line(bytes.substr(0, nl + 1));
    } else {
      partial_.append(bytes.substr(0, nl + 1));
      line(partial_);
      partial_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

ChainScan ChainScanner::finish() {
  scan_.partial_bytes = partial_.size();
  scan_.file = chain_.state();
  scan_.last_line_digest = chain_.last_line_digest();
  return scan_;
}

ChainScan scan_recording_chain(std::string_view content, const std::vector<ChainState>& points) {
  ChainScanner s(points);
  s.feed(content);
  return s.finish();
}

}  // namespace recorder
