#include "targets/postgres/wire/pg_wire_cancel_keys.h"

#include <openssl/rand.h>

#include <cstring>

namespace bastion::pgwire {

std::optional<std::pair<int32_t, int32_t>> CancelKeys::add(OnCancel on_cancel) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    unsigned char buf[8];
    if (RAND_bytes(buf, sizeof buf) != 1) return std::nullopt;
    uint32_t pid = 0, key = 0;
    std::memcpy(&pid, buf, 4);
    std::memcpy(&key, buf + 4, 4);
    // A positive pid, like a server's (clients print it).
    const std::pair<int32_t, int32_t> id{static_cast<int32_t>(pid & 0x3fffffffu) | 1, static_cast<int32_t>(key)};
    if (entries_.emplace(id, on_cancel).second) return id;
  }
  return std::nullopt;
}

bool CancelKeys::cancel(int32_t pid, int32_t key) {
  const auto it = entries_.find({pid, key});
  if (it == entries_.end()) return false;
  const OnCancel f = it->second;  // the callback may remove the entry
  if (f) f();
  return true;
}

}  // namespace bastion::pgwire
