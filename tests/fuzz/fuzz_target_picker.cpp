// The target picker reads what a user types on a pty: any bytes, cut
// anywhere. It must not crash, must only choose a listed target, and its
// screen must never carry an escape sequence but its own leading clear.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sources/target_picker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::vector<std::string> targets{"web1", "web2", "db1", "q\x1b[2J", "kube-prod"};
  bastion::TargetPicker p(targets, 1 + data[0] % 30);
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The first byte also picks where input is cut into reads.
  const std::size_t step = 1 + data[0] % 7;
  while (!in.empty()) {
    const std::size_t n = std::min(step, in.size());
    p.feed(in.substr(0, n));
    in.remove_prefix(n);
    const std::string s = p.screen();
    if (s.rfind("\x1b[H\x1b[2J", 0) != 0 || s.find('\x1b', 7) != std::string::npos) std::abort();
    if (!p.matches().empty() && p.selected() >= p.matches().size()) std::abort();
    if (p.filter().size() > 64) std::abort();
  }
  if (p.chosen() && std::find(targets.begin(), targets.end(), *p.chosen()) == targets.end()) std::abort();
  return 0;
}
