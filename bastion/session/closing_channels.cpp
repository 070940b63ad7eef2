#include "session/closing_channels.h"

#include <algorithm>

namespace bastion {

ClosingChannels::~ClosingChannels() {
  for (auto& e : entries_) release(*e);
}

void ClosingChannels::on_close(ssh_session, ssh_channel, void* userdata) {
  static_cast<Entry*>(userdata)->answered = true;
}

void ClosingChannels::release(Entry& e) {
  ssh_remove_channel_callbacks(e.ch.get(), &e.cb);
  e.ch.reset();
}

void ClosingChannels::adopt(SshChannel ch) {
  if (!ch) return;
  auto e = std::make_unique<Entry>();
  e->ch = std::move(ch);
  e->cb.userdata = e.get();
  e->cb.channel_close_function = &ClosingChannels::on_close;
  ssh_callbacks_init(&e->cb);
  if (ssh_set_channel_callbacks(e->ch.get(), &e->cb) != SSH_OK) return;  // freed: libssh keeps it, uncounted
  entries_.push_back(std::move(e));
}

std::size_t ClosingChannels::unanswered() const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(), [](auto& e) { return !e->answered; }));
}

void ClosingChannels::prune() {
  std::erase_if(entries_, [](const std::unique_ptr<Entry>& e) {
    if (!e->answered) return false;
    release(*e);
    return true;
  });
}

}  // namespace bastion
