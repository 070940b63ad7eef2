// Reading what libssh already holds for a channel, whole. libssh 0.10
// reopens a channel's receive window to a full 1.28 MB after any read that
// leaves it under half, whatever it still buffers: a buffer read in part at
// every pass would let the peer grow it by a window per read. So the bastion
// reads a channel's buffer whole or not at all, and only what libssh counted
// (ssh_channel_poll, or a data callback): with data buffered libssh reads
// from its buffer only, never the socket.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <libssh/libssh.h>

namespace bastion {

// Reads COUNT bytes of CH's stream (stdout, or stderr when IS_STDERR) that
// libssh holds, handing each chunk to SINK(std::string_view). Returns the
// bytes read: less than COUNT only if libssh held less after all.
template <class Sink>
std::size_t read_buffered_whole(ssh_channel ch, int is_stderr, std::size_t count, Sink&& sink) {
  char buf[32768];
  std::size_t done = 0;
  while (done < count) {
    const auto want = static_cast<uint32_t>(std::min(count - done, sizeof buf));
    const int n = ssh_channel_read_nonblocking(ch, buf, want, is_stderr);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
    sink(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  return done;
}

}  // namespace bastion
