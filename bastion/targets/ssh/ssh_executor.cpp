#include "targets/ssh/ssh_executor.h"

#include <algorithm>

#include "common/ssh_channel_drain.h"
#include "common/ssh_channel_read.h"

namespace bastion {

SshExecutor::SshExecutor(SshChannel ch, std::shared_ptr<UpstreamHold> hold) : ch_(std::move(ch)), hold_(std::move(hold)) {
  cb_.userdata = this;
  cb_.channel_exit_status_function = &SshExecutor::on_exit_status;
  cb_.channel_exit_signal_function = &SshExecutor::on_exit_signal;
  cb_.channel_data_function = &SshExecutor::on_data;
  cb_.channel_close_function = &SshExecutor::on_close;
  cb_.channel_eof_function = &SshExecutor::on_eof;
  ssh_callbacks_init(&cb_);
  // The data callback only counts: output stays in libssh's channel buffer
  // until we pull it, and pump_output reads it only whole, so the upstream
  // window reopens only as fast as the client drains (but see kHoldAt).
  ssh_set_channel_callbacks(ch_.get(), &cb_);
  if (hold_) hold_->join(this);
}

SshExecutor::~SshExecutor() { close(); }

void SshExecutor::on_exit_status(ssh_session, ssh_channel, int status, void* self) {
  auto* e = static_cast<SshExecutor*>(self);
  e->exit_.status = status;
  ++e->events_;
}

void SshExecutor::on_close(ssh_session, ssh_channel, void* self) { ++static_cast<SshExecutor*>(self)->events_; }

void SshExecutor::on_eof(ssh_session, ssh_channel, void* self) { ++static_cast<SshExecutor*>(self)->events_; }

bool SshExecutor::changed_since_pump() const {
  return ch_ && (events_ != events_seen_ || (ssh_is_connected(ssh_channel_get_session(ch_.get())) != 0) != connected_seen_);
}

void SshExecutor::note_pumped() {
  events_seen_ = events_;
  connected_seen_ = ch_ && ssh_is_connected(ssh_channel_get_session(ch_.get())) != 0;
}

int SshExecutor::on_data(ssh_session, ssh_channel, void*, uint32_t len, int is_stderr, void* self) {
  auto* e = static_cast<SshExecutor*>(self);
  ++e->events_;
  if (e->exit_.overran) return static_cast<int>(len);  // ending: dropped as it comes
  e->buffered_[is_stderr ? 1 : 0] = len;
  if (e->buffered() > kMaxBuffered) {
    e->exit_.overran = true;
    return static_cast<int>(len);
  }
  return 0;
}

void SshExecutor::sync_hold() {
  if (!hold_) return;
  hold_->set(this, ch_ && !exit_.overran && buffered() > kHoldAt);
  if (hold_->held() || !ch_ || !ssh_channel_is_open(ch_.get())) return;
  if (held_window_) ssh_channel_change_pty_size(ch_.get(), held_window_->first, held_window_->second);
  if (!held_signal_.empty()) ssh_channel_request_send_signal(ch_.get(), held_signal_.c_str());
  held_window_.reset();
  held_signal_.clear();
}

void SshExecutor::on_exit_signal(ssh_session, ssh_channel, const char* sig, int core, const char*,
                                 const char*, void* self) {
  auto* e = static_cast<SshExecutor*>(self);
  e->exit_.signal = sig ? sig : "";
  e->exit_.core_dumped = core != 0;
  ++e->events_;
}

std::size_t SshExecutor::input_capacity() {
  // Asked every pass, whether or not the client takes output: the hold is
  // kept up to date here too. A held connection is not written either (a
  // write may read the socket while it flushes).
  sync_hold();
  if (!ch_ || eof_sent_ || !ssh_channel_is_open(ch_.get()) || (hold_ && hold_->held())) return 0;
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
  if (hold_ && hold_->held()) held_window_.emplace(cols, rows);
  else if (ch_ && ssh_channel_is_open(ch_.get())) ssh_channel_change_pty_size(ch_.get(), cols, rows);
}

void SshExecutor::send_signal(const std::string& name) {
  if (hold_ && hold_->held()) held_signal_ = name;
  else if (ch_ && ssh_channel_is_open(ch_.get())) ssh_channel_request_send_signal(ch_.get(), name.c_str());
}

bool SshExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  if (!ch_) return false;
  if (exit_.overran) {
    close();
    return false;
  }
  if (budget == 0) return true;
  // Read whole or not at all (see ssh_channel_read.h); `budget` only says
  // whether to read. The client's queue may then pass its high-water mark by
  // what was buffered, once. Exactly what the data callback counted is read:
  // those reads never poll the socket, so a held connection stays unread.
  for (int s : {0, 1}) {
    const Stream stream = s ? Stream::err : Stream::out;
    while (buffered_[s] > 0) {  // what a write to the client let libssh take meanwhile, too
      const uint32_t count = buffered_[s];
      const std::size_t read =
          read_buffered_whole(ch_.get(), s, count, [&](std::string_view d) { out.write_view(stream, d); });
      buffered_[s] = read < count ? 0 : buffered_[s] - count;  // less: libssh had none after all
    }
  }
  sync_hold();
  note_pumped();
  // Unless held, the connection is polled here too, as before the reads were
  // counted: what this takes off the socket (output, an exit, the connection
  // ending) is read at the next pass, which changed_since_pump() asks for.
  if (!(hold_ && hold_->held())) {
    ssh_channel_poll(ch_.get(), 0);
    ssh_channel_poll(ch_.get(), 1);
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
  return !(buffered() == 0 && ssh_channel_is_closed(ch_.get()));
}

void SshExecutor::close() {
  if (!ch_) return;
  // libssh keeps a locally freed channel until the peer's CLOSE arrives, and
  // still dispatches its packets (a late exit-signal): unregister first, so
  // no callback can reach this object once it is gone, and drop what data
  // still comes (buffered, it would have no bound).
  ssh_remove_channel_callbacks(ch_.get(), &cb_);
  drop_further_data(ch_.get());
  if (ssh_channel_is_open(ch_.get())) ssh_channel_close(ch_.get());
  ch_.reset();
  buffered_[0] = buffered_[1] = 0;
  if (hold_) hold_->leave(this);
}

}  // namespace bastion
