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

ChainScan scan_recording_chain(std::string_view content, const std::vector<ChainState>& points) {
  ChainScan scan;
  scan.matches.assign(points.size(), false);
  LineChain chain;
  std::optional<double> last_time;
  std::size_t pos = 0;
  auto check_points = [&] {
    const ChainState now = chain.state();
    for (std::size_t i = 0; i < points.size(); ++i)
      if (points[i].events == now.events && chain.lines() > 0 && points[i].bytes == now.bytes &&
          points[i].digest == now.digest)
        scan.matches[i] = true;
  };
  while (pos < content.size()) {
    const std::size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) {
      scan.partial_bytes = content.size() - pos;
      break;
    }
    const std::string_view line = content.substr(pos, nl + 1 - pos);
    pos = nl + 1;
    chain.add(line);
    if (chain.lines() > 1) {
      const auto t = event_time(line);
      if (t && last_time && *t < *last_time && !scan.out_of_order_line) scan.out_of_order_line = chain.lines();
      if (t) last_time = t;
    }
    check_points();
  }
  scan.file = chain.state();
  scan.last_line_digest = chain.last_line_digest();
  return scan;
}

}  // namespace recorder
