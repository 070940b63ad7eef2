#include "targets/postgres/wire/pg_wire_upstream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>

namespace bastion::pgwire {

Upstream::Upstream(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {
  fd_ = conn_->socket();
  if (PQsslInUse(conn_->get())) ssl_ = PQsslStruct(conn_->get(), "OpenSSL");
  // The pending buffer may grow (and move) between a write that would block and its retry.
  if (ssl_) SSL_set_mode(static_cast<SSL*>(ssl_), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  // TLS in use without an SSL object to drive: refuse to relay (fail closed).
  if (PQsslInUse(conn_->get()) && !ssl_) closed_ = true;
}

Upstream::~Upstream() = default;  // PQfinish through PgConnection

std::vector<std::pair<std::string, std::string>> Upstream::parameters() const {
  // libpq cannot list them: these are every one a server reports at startup (PostgreSQL 12-17).
  static const char* const kNames[] = {"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
                                       "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser",
                                       "server_encoding", "server_version", "session_authorization",
                                       "standard_conforming_strings", "TimeZone", "scram_iterations"};
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* n : kNames)
    if (const char* v = PQparameterStatus(conn_->get(), n)) out.emplace_back(n, v);
  return out;
}

Upstream::Io Upstream::read(std::string& out, std::size_t max) {
  if (!ok()) return Io::closed;
  char buf[16384];
  const std::size_t want = std::min(sizeof buf, max);
  if (want == 0) return Io::again;
  if (ssl_) {
    auto* s = static_cast<SSL*>(ssl_);
    ERR_clear_error();
    const int n = SSL_read(s, buf, static_cast<int>(want));
    if (n > 0) return out.append(buf, static_cast<std::size_t>(n)), Io::ok;
    const int e = SSL_get_error(s, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Io::again;
    closed_ = true;
    return Io::closed;
  }
  while (true) {
    const ssize_t n = ::recv(fd_, buf, want, MSG_DONTWAIT);
    if (n > 0) return out.append(buf, static_cast<std::size_t>(n)), Io::ok;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::again;
    closed_ = true;
    return Io::closed;
  }
}

Upstream::Io Upstream::write(std::string& pending) {
  if (!ok()) return Io::closed;
  while (!pending.empty()) {
    const std::size_t chunk = std::min<std::size_t>(pending.size(), 1 << 16);
    if (ssl_) {
      auto* s = static_cast<SSL*>(ssl_);
      ERR_clear_error();
      const int n = SSL_write(s, pending.data(), static_cast<int>(chunk));
      if (n > 0) {
        pending.erase(0, static_cast<std::size_t>(n));
        continue;
      }
      const int e = SSL_get_error(s, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Io::again;
      closed_ = true;
      return Io::closed;
    }
    const ssize_t n = ::send(fd_, pending.data(), chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      pending.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::again;
    closed_ = true;
    return Io::closed;
  }
  return Io::ok;
}

bool Upstream::has_buffered() const { return ssl_ && SSL_pending(static_cast<SSL*>(ssl_)) > 0; }

void Upstream::cancel() {
  std::string ignored;
  conn_->cancel(ignored);
}

}  // namespace bastion::pgwire
