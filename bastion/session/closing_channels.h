// Channels the bastion closed whose client has not answered the CLOSE yet.
// libssh keeps a channel until that answer, even one freed, so a client that
// never answers would keep every channel it ever opened. Kept here instead,
// they are counted (Session::may_open_channel) and freed when the answer
// comes.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include <libssh/callbacks.h>

#include "common/ssh_handles.h"

namespace bastion {

class ClosingChannels {
 public:
  ClosingChannels() = default;
  ClosingChannels(const ClosingChannels&) = delete;
  ClosingChannels& operator=(const ClosingChannels&) = delete;
  ~ClosingChannels();

  // CH was closed by the bastion (its CLOSE sent); the client's is awaited.
  void adopt(SshChannel ch);
  // Frees the channels whose client answered.
  void prune();
  std::size_t size() const { return entries_.size(); }
  // Those whose answer has not come (an answer and the client's next open
  // may arrive in one read, before prune() runs).
  std::size_t unanswered() const;

 private:
  struct Entry {
    SshChannel ch;
    ssh_channel_callbacks_struct cb{};
    bool answered = false;
  };
  static void on_close(ssh_session, ssh_channel, void* userdata);
  static void release(Entry& e);

  std::vector<std::unique_ptr<Entry>> entries_;  // stable addresses: libssh holds &cb
};

}  // namespace bastion
