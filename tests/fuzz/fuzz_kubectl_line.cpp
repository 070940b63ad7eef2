// Fuzzes a kubectl command line: shell-style tokenizing, then the argv parser.
#include <cstdint>
#include <string>

#include "targets/kubectl/kubectl_line.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  const auto k = bastion::parse_kubectl_line(line, "default");
  // Every name the policy sees came from the line.
  for (const auto& n : k.facts.names)
    if (!n.empty() && line.find(n) == std::string::npos && n.find_first_of("'\"\\") == std::string::npos &&
        line.find('\'') == std::string::npos && line.find('"') == std::string::npos && line.find('\\') == std::string::npos)
      __builtin_trap();
  return 0;
}
