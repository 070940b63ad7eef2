// Fuzzes the shell tokenizer/splitter that every exec command goes through
// before the policy sees it.
#include <cstdint>
#include <string_view>

#include "policy/shell_words.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto p = bastion::parse_shell(std::string_view(reinterpret_cast<const char*>(data), size));
  // Every part's depth stays within the cap.
  for (const auto& part : p.parts)
    if (part.depth > bastion::kShellMaxDepth + 1) __builtin_trap();
  return 0;
}
