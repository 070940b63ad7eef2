// A plain-HTTP httplib::Server whose connections a ConnectionGuard bounds
// as it bounds TLS ones: httplib hides an accepted socket from everything
// but process_and_close_socket, so this serves it here and names it to the
// guard before the first byte is read. One request per connection (no
// keep-alive): the guard's deadline then covers the whole request, from the
// moment a worker takes the connection.
#pragma once
#include <httplib.h>

#include "common/connection_guard.h"

namespace bastion {

class GuardedHttpServer : public httplib::Server {
 public:
  explicit GuardedHttpServer(ConnectionGuard& guard) : guard_(guard) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionGuard& guard_;
};

}  // namespace bastion
