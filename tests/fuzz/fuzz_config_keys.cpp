// Fuzzes the scan for keys defined twice in a config's source
// (config/duplicate_keys): any bytes, not only valid Lua, must end, and
// every duplicate found names lines inside the input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/duplicate_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view src(reinterpret_cast<const char*>(data), size);
  int lines = 1;
  for (const char c : src) lines += c == '\n';
  for (const auto& d : bastion::find_duplicate_keys(src))
    if (d.first_line < 1 || d.line < d.first_line || d.line > lines || d.key.empty()) std::abort();
  return 0;
}
