// Fuzzes the fail-closed command analysis policies see as c.parts.
// Properties: it never crashes; it keeps parse_shell's parts unchanged as its
// prefix; an opaque part has no program and no empty reason; depth is bounded;
// shell_text_complete and the audit details never crash or recurse unbounded.
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "policy/shell_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto old = bastion::parse_shell(line);
  const auto now = bastion::parse_command(line);
  if (now.words != old.words || now.error != old.error || now.parts.size() < old.parts.size()) __builtin_trap();
  for (std::size_t i = 0; i < old.parts.size(); ++i)
    if (now.parts[i].argv != old.parts[i].argv || now.parts[i].redirects != old.parts[i].redirects ||
        now.parts[i].depth != old.parts[i].depth)
      __builtin_trap();
  constexpr int kMaxDepth = (bastion::kShellMaxDepth + 2) * (bastion::kShellMaxDepth + 2);
  for (const auto& part : now.parts) {
    if (part.depth > kMaxDepth) __builtin_trap();
    for (const auto& why : part.opaque)
      if (why.empty()) __builtin_trap();
    if (!part.opaque.empty() && !part.program.empty()) __builtin_trap();
    if (!part.program.empty() && (part.args.empty() || part.program.find('/') != std::string::npos)) __builtin_trap();
  }
  (void)bastion::shell_text_complete(line);
  const std::string details = bastion::shell_audit_details(now);
  const bool any_opaque = !now.error.empty() || std::any_of(now.parts.begin(), now.parts.end(), bastion::part_is_opaque);
  if (details.empty() == any_opaque) __builtin_trap();
  return 0;
}
