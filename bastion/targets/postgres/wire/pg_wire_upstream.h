// The wire proxy's upstream leg: a libpq connection made as the session's
// held credential (startup, authentication and TLS are libpq's), then used
// as a raw byte pipe. Once PQconnectdbParams returns CONNECTION_OK, libpq
// has consumed the server's startup answer up to ReadyForQuery and holds
// nothing unread (the server sends nothing more until it is asked), so the
// proxy reads and writes the socket (or libpq's OpenSSL SSL object when
// TLS is on) itself. libpq is never called on it again except PQfinish and
// PQgetCancel/PQcancel.
#pragma once
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "targets/postgres/pg_connection.h"

namespace bastion::pgwire {

class Upstream {
 public:
  explicit Upstream(std::unique_ptr<PgConnection> conn);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  int socket() const { return fd_; }
  // The server's startup ParameterStatus values, to replay to the client.
  std::vector<std::pair<std::string, std::string>> parameters() const;
  enum class Io { ok, again, closed };
  // Appends what the server sent (up to `max` bytes).
  Io read(std::string& out, std::size_t max);
  // Writes from the front of `pending`, erasing what went out.
  Io write(std::string& pending);
  // Decrypted bytes wait inside TLS (the socket will not report them).
  bool has_buffered() const;
  // A short blocking cancel of whatever the server runs for this connection.
  void cancel();
  bool ok() const { return fd_ >= 0 && !closed_; }

 private:
  std::unique_ptr<PgConnection> conn_;
  void* ssl_ = nullptr;  // libpq's SSL*, when TLS is on
  int fd_ = -1;
  bool closed_ = false;
};

}  // namespace bastion::pgwire
