// Fuzzes the --expect-head parser (audit/chain_verifier: parse_chain_head).
// Checks, for any input: an accepted head is SEQ:HASH with SEQ >= 1 and a
// 64-digit lowercase hex hash, and prints back to exactly the input.
#include <cstdint>
#include <string>

#include "audit/chain_verifier.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto h = bastion::parse_chain_head(in);
  if (!h) return 0;
  if (h->seq < 1 || h->hash.size() != 64) fail();
  for (const char c : h->hash)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) fail();
  if (std::to_string(h->seq) + ":" + h->hash != in) fail();
  return 0;
}
