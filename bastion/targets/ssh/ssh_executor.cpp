#include "targets/ssh/ssh_executor.h"

#include <algorithm>

namespace bastion {

SshExecutor::SshExecutor(SshChannel ch) : ch_(std::move(ch)) {
  cb_.userdata = this;
  cb_.channel_exit_status_function = &SshExecutor::on_exit_status;
  cb_.channel_exit_signal_function = &SshExecutor::on_exit_signal;
  cb_.channel_data_function = &SshExecutor::on_data;
  ssh_callbacks_init(&cb_);
  // The data callback only counts: output stays in libssh's channel buffer
  // until we pull it, and pump_output reads it only whole, so the upstream
  // window reopens only as fast as the client drains (but see kMaxBuffered).
  ssh_set_channel_callbacks(ch_.get(), &cb_);
}

SshExecutor::~SshExecutor() { close(); }

void SshExecutor::on_exit_status(ssh_session, ssh_channel, int status, void* self) {
  static_cast<SshExecutor*>(self)->exit_.status = status;
}

int SshExecutor::on_data(ssh_session, ssh_channel, void*, uint32_t len, int is_stderr, void* self) {
  auto* e = static_cast<SshExecutor*>(self);
  if (e->exit_.overran) return static_cast<int>(len);  // ended: dropped as it comes until the target closes
  e->buffered_[is_stderr ? 1 : 0] = len;  // `len` is all that libssh buffers for that stream
  if (static_cast<uint64_t>(e->buffered_[0]) + e->buffered_[1] > kMaxBuffered) {
    e->exit_.overran = true;
    return static_cast<int>(len);
  }
  return 0;
}

void SshExecutor::on_exit_signal(ssh_session, ssh_channel, const char* sig, int core, const char*,
                                 const char*, void* self) {
  auto* e = static_cast<SshExecutor*>(self);
  e->exit_.signal = sig ? sig : "";
  e->exit_.core_dumped = core != 0;
}

std::size_t SshExecutor::input_capacity() {
  if (!ch_ || eof_sent_ || !ssh_channel_is_open(ch_.get())) return 0;
  return ssh_channel_window_size(ch_.get());
}

bool SshExecutor::write_input(std::string_view data) {
  if (!ch_) return false;
  // Callers never pass more than input_capacity(), so this cannot block.
  return ssh_channel_write(ch_.get(), data.data(), static_cast<uint32_t>(data.size())) ==
         static_cast<int>(data.size());
}

void SshExecutor::send_eof() {
  if (ch_ && !eof_sent_ && ssh_channel_is_open(ch_.get())) ssh_channel_send_eof(ch_.get());
  eof_sent_ = true;
}

void SshExecutor::window_change(int cols, int rows) {
  if (ch_ && ssh_channel_is_open(ch_.get())) ssh_channel_change_pty_size(ch_.get(), cols, rows);
}

void SshExecutor::send_signal(const std::string& name) {
  if (ch_ && ssh_channel_is_open(ch_.get())) ssh_channel_request_send_signal(ch_.get(), name.c_str());
}

bool SshExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  if (!ch_) return false;
  if (exit_.overran) {
    close();
    return false;
  }
  if (budget == 0) return true;
  // libssh 0.10 reopens the channel's window to a full 1.28 MB on every read
  // that leaves it under half, whatever it still buffers: reading part of
  // its buffer (a target faster than its client) would let the target grow
  // it by a window per read, without bound. So it is read whole or not at
  // all; `budget` only says whether to read. The client's queue may then
  // pass its high-water mark by one window, once.
  char buf[32768];
  for (int is_stderr : {0, 1}) {
    const int buffered = ssh_channel_poll(ch_.get(), is_stderr);
    auto left = buffered > 0 ? static_cast<std::size_t>(buffered) : 0;
    while (left > 0) {
      // With data buffered libssh reads from its buffer only, never the socket.
      const int n = ssh_channel_read_nonblocking(ch_.get(), buf, static_cast<uint32_t>(std::min(left, sizeof buf)), is_stderr);
      if (n <= 0) break;
      out.write_view(is_stderr ? Stream::err : Stream::out, std::string_view(buf, static_cast<std::size_t>(n)));
      left -= static_cast<std::size_t>(n);
    }
    if (left == 0) buffered_[is_stderr] = 0;
  }
  // A lost connection never sends CLOSE, and libssh then refuses to read
  // what it still buffers: the command is over (no exit status, so the
  // client is told it ended abnormally).
  if (!ssh_is_connected(ssh_channel_get_session(ch_.get()))) {
    if (!exit_.status && exit_.signal.empty()) exit_.lost = true;
    return false;
  }
  // Finished once the target closed the channel and nothing is buffered.
  // EOF alone is not the end: exit-status follows it, then CLOSE.
  const bool drained = ssh_channel_poll(ch_.get(), 0) <= 0 && ssh_channel_poll(ch_.get(), 1) <= 0;
  return !(drained && ssh_channel_is_closed(ch_.get()));
}

void SshExecutor::close() {
  if (!ch_) return;
  // libssh keeps a locally freed channel until the peer's CLOSE arrives, and
  // still dispatches its packets (a late exit-signal): unregister first, so
  // no callback can reach this object once it is gone.
  ssh_remove_channel_callbacks(ch_.get(), &cb_);
  if (ssh_channel_is_open(ch_.get())) ssh_channel_close(ch_.get());
  ch_.reset();
}

}  // namespace bastion
