#include "common/ssh_channel_drain.h"

#include <libssh/callbacks.h>

namespace bastion {
namespace {

int drop_data(ssh_session, ssh_channel, void*, uint32_t len, int, void*) { return static_cast<int>(len); }

// libssh keeps a pointer to the struct: one that never changes once built,
// shared by every channel (immutable, so not global mutable state).
ssh_channel_callbacks make_drop_callbacks() {
  static ssh_channel_callbacks_struct cb = [] {
    ssh_channel_callbacks_struct c{};
    c.channel_data_function = &drop_data;
    ssh_callbacks_init(&c);
    return c;
  }();
  return &cb;
}

}  // namespace

void drop_further_data(ssh_channel ch) {
  if (ch) ssh_set_channel_callbacks(ch, make_drop_callbacks());
}

}  // namespace bastion
