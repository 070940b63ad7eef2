// Whether the bastion stops reading an upstream SSH connection for now.
// libssh 0.10 cannot keep a channel's window shut: it reopens it on every
// packet of one stream while the other stream's buffer is full, so a command
// writing stdout and stderr faster than its client reads is not held back
// by the window. It is held back the way TCP holds any sender: while one of
// the connection's channels has more output buffered than it may
// (SshExecutor::kHoldAt), its socket is left out of the session's poll and
// unread, and the target's sshd, then the command, block on writing. The
// other channels multiplexed on that connection wait meanwhile.
#pragma once
#include <functional>
#include <set>

namespace bastion {

class UpstreamHold {
 public:
  // `changed(held)`: the connection stops (true) or resumes (false) reading.
  explicit UpstreamHold(std::function<void(bool held)> changed) : changed_(std::move(changed)) {}
  // Channel `who` has (over) or no longer has (!over) too much buffered.
  void set(const void* who, bool over) {
    const bool was = held();
    if (over) over_.insert(who);
    else over_.erase(who);
    if (held() != was && changed_) changed_(held());
  }
  bool held() const { return !over_.empty(); }
  // The connection is gone: nothing to tell any more.
  void orphan() { changed_ = nullptr; }

 private:
  std::function<void(bool)> changed_;
  std::set<const void*> over_;
};

}  // namespace bastion
