// Fuzzes the HTTP target's request framing (HttpRequestStream over
// http-parser) and the facts read from a path: no crash, bounded work, and
// the same events however the bytes are split (a client choosing the
// split must not change what is decided; which of two faults is named
// first may), and the checks on a target's query. The first byte picks
// the split.
#include <cctype>
#include <cstdint>
#include <string>

#include "targets/http/http_facts.h"
#include "targets/http/http_relay_rules.h"
#include "targets/http/http_request_log.h"

namespace {
// The description up to and including "error", without its reason.
std::string events(std::string d) {
  const auto e = d.find("error: ");
  return e == std::string::npos ? d : d.substr(0, e + 5);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 16;
  const std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string whole = events(bastion::describe_request_stream(in, 0));
  if (events(bastion::describe_request_stream(in, step)) != whole) __builtin_trap();
  // Path facts: a path the checks accept never holds a dot segment.
  std::string path, query;
  bastion::split_target(in.substr(0, in.find(' ')), path, query);
  if (bastion::http_path_problem(path).empty() &&
      (path.find("/../") != std::string::npos || path.find("/./") != std::string::npos))
    __builtin_trap();
  (void)bastion::registry_facts("GET", path);
  // A query the checks accept has no encoded letter or digit left for an
  // upstream to decode into another word than the policy compared.
  if (bastion::http_query_problem(query).empty())
    for (std::size_t i = query.find('%'); i != std::string::npos; i = query.find('%', i + 1))
      if (i + 2 >= query.size() || std::isalnum(std::stoi(query.substr(i + 1, 2), nullptr, 16))) __builtin_trap();
  (void)bastion::http_body_masked(in.substr(0, 64));
  return 0;
}
