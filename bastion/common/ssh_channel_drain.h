// A channel the bastion is done with, but libssh is not: libssh keeps a
// locally closed (even freed) channel until the peer's CLOSE arrives, and
// buffers whatever data the peer sends meanwhile, past any window, with no
// bound. Call this after removing the channel's own callbacks: from then on
// its data is dropped as it arrives.
#pragma once
#include <libssh/libssh.h>

namespace bastion {

void drop_further_data(ssh_channel ch);

}  // namespace bastion
