// RAII owners for libssh handles. A channel must be released before the
// session that owns it, so owners declare sessions before channels.
#pragma once
#include <memory>

#include <libssh/libssh.h>
#include <libssh/server.h>

namespace bastion {

struct SshSessionFree { void operator()(ssh_session s) const { ssh_disconnect(s); ssh_free(s); } };
struct SshChannelFree { void operator()(ssh_channel c) const { ssh_channel_free(c); } };
struct SshEventFree { void operator()(ssh_event e) const { ssh_event_free(e); } };
struct SshKeyFree { void operator()(ssh_key k) const { ssh_key_free(k); } };
struct SshBindFree { void operator()(ssh_bind b) const { ssh_bind_free(b); } };
struct SshStringFree { void operator()(char* p) const { ssh_string_free_char(p); } };

using SshSession = std::unique_ptr<std::remove_pointer_t<ssh_session>, SshSessionFree>;
using SshChannel = std::unique_ptr<std::remove_pointer_t<ssh_channel>, SshChannelFree>;
using SshEvent = std::unique_ptr<std::remove_pointer_t<ssh_event>, SshEventFree>;
using SshKey = std::unique_ptr<std::remove_pointer_t<ssh_key>, SshKeyFree>;
using SshBind = std::unique_ptr<std::remove_pointer_t<ssh_bind>, SshBindFree>;
using SshCString = std::unique_ptr<char, SshStringFree>;

}  // namespace bastion
