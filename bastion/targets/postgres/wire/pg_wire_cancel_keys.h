// The session's registry of wire connections' BackendKeyData: a client's
// CancelRequest arrives on a new tunnel channel (a new TCP connection) with
// the (pid, key) the bastion gave it, and cancels that connection's running
// statement upstream, or its statement held for review. Owned by the
// session's postgres TargetConnection: keys never reach another session.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

namespace bastion::pgwire {

class CancelKeys {
 public:
  // Called on a matching CancelRequest (on the session's thread).
  using OnCancel = std::function<void()>;
  // A fresh random (pid, key) for a new connection; nullopt when the random
  // generator fails (the connection is refused: fail closed).
  std::optional<std::pair<int32_t, int32_t>> add(OnCancel on_cancel);
  void remove(std::pair<int32_t, int32_t> id) { entries_.erase(id); }
  // True when the key matched (and its connection was told).
  bool cancel(int32_t pid, int32_t key);
  std::size_t size() const { return entries_.size(); }

 private:
  std::map<std::pair<int32_t, int32_t>, OnCancel> entries_;
};

}  // namespace bastion::pgwire
