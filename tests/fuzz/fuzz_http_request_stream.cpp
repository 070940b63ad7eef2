// Fuzzes the HTTP target's request framing (HttpRequestStream over
// http-parser) and the facts read from a path: no crash, bounded work, and
// the same events however the bytes are split (a client choosing the
// split must not change what is decided). The first byte picks the split.
#include <cstdint>
#include <string>

#include "targets/http/http_facts.h"
#include "targets/http/http_request_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 16;
  const std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string whole = bastion::describe_request_stream(in, 0);
  if (bastion::describe_request_stream(in, step) != whole) __builtin_trap();
  // Path facts: a path the checks accept never holds a dot segment.
  std::string path, query;
  bastion::split_target(in.substr(0, in.find(' ')), path, query);
  if (bastion::http_path_problem(path).empty() &&
      (path.find("/../") != std::string::npos || path.find("/./") != std::string::npos))
    __builtin_trap();
  (void)bastion::registry_facts("GET", path);
  return 0;
}
