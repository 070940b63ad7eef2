// Fuzzes listening_unix_paths, bastionctl --pid's reading of
// /proc/PID/net/unix (whose paths other local users choose). Checks, for
// any text: every path returned is absolute, a single line, and the end of
// one of the text's lines; none comes from the header line.
#include <cstdint>
#include <set>
#include <sstream>
#include <string>

#include "ctl/running_daemon.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The process's socket inodes: small numbers, so the fuzzer finds them.
  std::set<unsigned long> inodes;
  for (unsigned long i = 0; i < 64; ++i) inodes.insert(i);
  const auto paths = bastion::listening_unix_paths(text, inodes);
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // the header: never a source
  std::set<std::string> lines;
  while (std::getline(in, line)) lines.insert(line);
  for (const auto& p : paths) {
    if (p.empty() || p[0] != '/' || p.find('\n') != std::string::npos) fail();
    bool found = false;
    for (const auto& l : lines)
      if (l.size() >= p.size() && l.compare(l.size() - p.size(), p.size(), p) == 0) found = true;
    if (!found) fail();
  }
  return 0;
}
