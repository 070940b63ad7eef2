// Whether the bastion stops reading an upstream SSH connection for now.
// libssh 0.10 cannot keep a channel's window shut: it reopens it on every
// packet of one stream while the other stream's buffer is full, so a command
// writing stdout and stderr faster than its client reads is not held back
// by the window. It is held back the way TCP holds any sender: while the
// connection's channel has more output buffered than it may
// (SshExecutor::kHoldAt), its socket is left out of the session's poll and
// unread, and the target's sshd, then the command, block on writing.
//
// Holding a connection stalls every channel on it (their input, window
// adjusts and exits), and a client relaying one channel's output into
// another's input would wait forever: so a connection carries one running
// channel at a time (a second one at once gets its own, Session::target),
// and one carrying several anyway is not held (their bound is then
// SshExecutor::kMaxBuffered).
#pragma once
#include <cstddef>
#include <functional>
#include <set>

namespace bastion {

class UpstreamHold {
 public:
  // `changed(held)`: the connection stops (true) or resumes (false) reading.
  explicit UpstreamHold(std::function<void(bool held)> changed) : changed_(std::move(changed)) {}
  // Channel `who` opened on the connection / is closed.
  void join(const void* who) {
    update([&] { members_.insert(who); });
  }
  void leave(const void* who) {
    update([&] {
      members_.erase(who);
      over_.erase(who);
    });
  }
  // Channel `who` has (over) or no longer has (!over) too much buffered.
  void set(const void* who, bool over) {
    update([&] {
      if (over) over_.insert(who);
      else over_.erase(who);
    });
  }
  bool held() const { return !over_.empty() && members_.size() == 1; }
  std::size_t members() const { return members_.size(); }
  // The connection is gone: nothing to tell any more.
  void orphan() { changed_ = nullptr; }

 private:
  template <typename F>
  void update(F change) {
    const bool was = held();
    change();
    if (held() != was && changed_) changed_(held());
  }
  std::function<void(bool)> changed_;
  std::set<const void*> members_, over_;
};

}  // namespace bastion
