#include "targets/kubectl/kube_api_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/log.h"
#include "common/openssl_handles.h"
#include "targets/kubectl/kube_http.h"
#include "targets/kubectl/kube_masking.h"
#include "targets/kubectl/kube_proxy_identity.h"
#include "targets/kubectl/kube_request.h"

namespace bastion {

struct KubeTls {
  SslCtxPtr server, client;
};

namespace {

constexpr int kHeadTimeoutSec = 30;
constexpr std::size_t kMaxBody = 16u << 20;        // a request body, a masked response
constexpr std::size_t kMaxConnections = 64;         // per session
constexpr int kMaxRequestsPerConnection = 1000;     // then kubectl opens a new one
constexpr std::size_t kMaxLine = 16u << 20;         // one watch event

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string ssl_error() {
  const unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return e ? buf : "unknown TLS error";
}

std::string to_hex_size(std::size_t n) {
  char buf[32];
  snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

// The proxy's own identity into its TLS server context.
bool use_identity(SSL_CTX* ctx, const KubeProxyIdentity& id, std::string& error) {
  BioPtr cb(BIO_new_mem_buf(id.cert_pem.data(), static_cast<int>(id.cert_pem.size())));
  BioPtr kb(BIO_new_mem_buf(id.key_pem.data(), static_cast<int>(id.key_pem.size())));
  X509Ptr x(cb ? PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr) : nullptr);
  PkeyPtr key(kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!x || !key || SSL_CTX_use_certificate(ctx, x.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    return error = "cannot use the proxy's certificate: " + ssl_error(), false;
  return true;
}

bool make_client(SSL_CTX* ctx, const KubeUpstream& up, std::string& error) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BioPtr ca(BIO_new_mem_buf(up.ca_pem.data(), static_cast<int>(up.ca_pem.size())));
  int added = 0;
  while (X509Ptr c{PEM_read_bio_X509(ca.get(), nullptr, nullptr, nullptr)}) {
    if (X509_STORE_add_cert(store, c.get()) != 1) return error = "cannot use the kubeconfig's CA", false;
    ++added;
  }
  ERR_clear_error();  // the end of the PEM list
  if (!added) return error = "the kubeconfig's certificate-authority-data holds no PEM certificate", false;
  if (!up.client_cert_pem.empty()) {
    BioPtr cb(BIO_new_mem_buf(up.client_cert_pem.data(), static_cast<int>(up.client_cert_pem.size())));
    X509Ptr cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    BioPtr kb(BIO_new_mem_buf(up.client_key_pem.data(), static_cast<int>(up.client_key_pem.size())));
    PkeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    if (!cert || !key || SSL_CTX_use_certificate(ctx, cert.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
      return error = "the kubeconfig's client certificate or key cannot be used: " + ssl_error(), false;
    // Intermediates after the leaf.
    while (X509Ptr extra{PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)})
      if (SSL_CTX_add_extra_chain_cert(ctx, extra.get()) == 1) extra.release();
    ERR_clear_error();
  }
  return true;
}

// One TLS connection, blocking, with a read buffer.
}  // namespace

class KubeTlsIo {
 public:
  KubeTlsIo(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  std::string buf;  // read but not consumed

  // >0 bytes appended to buf; 0 EOF or error; -1 nothing now (non-retry mode).
  long fill() {
    char tmp[16384];
    const int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n > 0) return buf.append(tmp, static_cast<std::size_t>(n)), n;
    const int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return -1;
    return 0;
  }
  bool read_head(std::string& head) {
    for (;;) {
      const auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        head = buf.substr(0, end + 4);
        buf.erase(0, end + 4);
        return true;
      }
      if (buf.size() > kMaxHttpHead) return false;
      if (fill() == 0) return false;
    }
  }
  bool read_exact(std::size_t n, std::string& out) {
    while (buf.size() < n)
      if (fill() == 0) return false;
    out = buf.substr(0, n);
    buf.erase(0, n);
    return true;
  }
  bool read_line(std::string& line) {  // CRLF-terminated, bounded
    for (;;) {
      const auto end = buf.find("\r\n");
      if (end != std::string::npos) {
        line = buf.substr(0, end);
        buf.erase(0, end + 2);
        return true;
      }
      if (buf.size() > 4096) return false;
      if (fill() == 0) return false;
    }
  }
  // One chunk of a chunked body: false on a framing error; `last` at the 0 chunk.
  bool read_chunk(std::string& data, bool& last) {
    std::string line;
    if (!read_line(line)) return false;
    const std::string size = line.substr(0, line.find(';'));
    if (size.empty() || size.size() > 8 || size.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      return false;
    const std::size_t n = std::stoul(size, nullptr, 16);
    last = n == 0;
    if (last) {
      for (;;) {  // trailers, up to the blank line
        if (!read_line(line)) return false;
        if (line.empty()) return true;
      }
    }
    std::string crlf;
    return read_exact(n, data) && read_exact(2, crlf) && crlf == "\r\n";
  }
  bool write_all(std::string_view s) {
    while (!s.empty()) {
      const int n = SSL_write(ssl_, s.data(), static_cast<int>(std::min<std::size_t>(s.size(), 1 << 20)));
      if (n <= 0) {
        const int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          pollfd p{fd_, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
          if (::poll(&p, 1, 30000) <= 0) return false;
          continue;
        }
        return false;
      }
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  SSL* ssl() const { return ssl_; }
  int fd() const { return fd_; }

 private:
  SSL* ssl_;
  int fd_;
};

namespace {

void set_timeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string status_json(int code, const std::string& reason, const std::string& message) {
  nlohmann::json j = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                      {"status", "Failure"}, {"message", message}, {"reason", reason}, {"code", code}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool send_status(KubeTlsIo& c, int code, const std::string& text, const std::string& reason, const std::string& message) {
  const std::string body = status_json(code, reason, message);
  return c.write_all("HTTP/1.1 " + std::to_string(code) + " " + text +
                     "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

int connect_tcp(const std::string& host, const std::string& port, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return error = "cannot resolve " + host, -1;
  std::unique_ptr<addrinfo, OpensslFree<addrinfo, freeaddrinfo>> guard(res);
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (::poll(&p, 1, 10000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
      }
    }
    ::close(fd);
  }
  return error = "cannot connect to the API server " + host + ":" + port, -1;
}

// Bytes both ways once an upgrade (exec, attach, port-forward) was allowed.
void relay_upgraded(KubeTlsIo& a, KubeTlsIo& b) {
  SSL_clear_mode(a.ssl(), SSL_MODE_AUTO_RETRY);
  SSL_clear_mode(b.ssl(), SSL_MODE_AUTO_RETRY);
  if (!a.buf.empty() && !b.write_all(a.buf)) return;
  if (!b.buf.empty() && !a.write_all(b.buf)) return;
  a.buf.clear(), b.buf.clear();
  for (;;) {
    pollfd p[2] = {{a.fd(), POLLIN, 0}, {b.fd(), POLLIN, 0}};
    const bool pending = SSL_pending(a.ssl()) > 0 || SSL_pending(b.ssl()) > 0;
    if (!pending && ::poll(p, 2, -1) < 0 && errno != EINTR) return;
    for (auto [from, to, i] : {std::tuple{&a, &b, 0}, std::tuple{&b, &a, 1}}) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)) && SSL_pending(from->ssl()) == 0) continue;
      const long n = from->fill();
      if (n == 0) return;
      if (n > 0 && !to->write_all(from->buf)) return;
      from->buf.clear();
    }
  }
}

// A chunked response streamed on, chunk by chunk; with `mask`, the body is
// newline-separated JSON (a watch) and each complete event is masked.
bool relay_chunked(KubeTlsIo& up, KubeTlsIo& client, bool mask, bool secret_resource) {
  std::string pending;  // an incomplete watch event
  for (;;) {
    std::string data;
    bool last = false;
    if (!up.read_chunk(data, last)) return false;
    if (last) {
      if (mask && !pending.empty()) {
        if (!mask_kube_body(pending, secret_resource)) return false;
        if (!client.write_all(to_hex_size(pending.size()) + "\r\n" + pending + "\r\n")) return false;
      }
      return client.write_all("0\r\n\r\n");
    }
    if (mask) {
      pending += data;
      if (pending.size() > kMaxLine) return false;
      std::string out;
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::string event = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!event.empty() && !mask_kube_body(event, secret_resource)) return false;  // not JSON: stop (fail closed)
        out += event + "\n";
      }
      data = std::move(out);
    }
    if (!data.empty() && !client.write_all(to_hex_size(data.size()) + "\r\n" + data + "\r\n")) return false;
  }
}

}  // namespace

std::unique_ptr<KubeApiProxy> KubeApiProxy::start(const KubeUpstream& upstream, const std::string& session_id,
                                                  std::string& error, const Options& opts) {
  std::unique_ptr<KubeApiProxy> p(new KubeApiProxy());
  p->upstream_ = upstream;
  p->session_id_ = session_id;
  p->tls_ = std::make_unique<KubeTls>();
  p->tls_->server.reset(SSL_CTX_new(TLS_server_method()));
  p->tls_->client.reset(SSL_CTX_new(TLS_client_method()));
  if (!p->tls_->server || !p->tls_->client) return error = "cannot start TLS: " + ssl_error(), nullptr;
  SSL_CTX_set_min_proto_version(p->tls_->server.get(), TLS1_2_VERSION);
  KubeProxyIdentity fresh;
  const KubeProxyIdentity* id = opts.identity;
  if (!id) {
    if (!make_kube_proxy_identity(1, fresh, error)) return nullptr;
    id = &fresh;
  }
  if (!use_identity(p->tls_->server.get(), *id, error) || !make_client(p->tls_->client.get(), upstream, error))
    return nullptr;
  p->ca_pem_ = id->cert_pem;
  if (!opts.token.empty()) {
    p->token_ = opts.token;
  } else {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) return error = "no randomness for the session token", nullptr;
    p->token_ = hex_encode(raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
  }
  p->own_kubectl_ = opts.own_kubectl;
  p->decision_timeout_ = opts.decision_timeout;
  p->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (p->stop_fd_ < 0) return error = std::string("cannot start the proxy: ") + strerror(errno), nullptr;
  if (!opts.listen) return p;  // served through adopt() only

  p->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = 0;
  socklen_t len = sizeof sa;
  if (p->listen_fd_ < 0 || bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(p->listen_fd_, 16) != 0 || getsockname(p->listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return error = std::string("cannot listen for kubectl on 127.0.0.1: ") + strerror(errno), nullptr;
  p->port_ = ntohs(sa.sin_port);
  p->acceptor_ = std::thread([raw_p = p.get()] { raw_p->accept_loop(); });
  return p;
}

KubeApiProxy::~KubeApiProxy() {
  stopping_ = true;
  queue_.close();  // waiting requests are refused
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(stop_fd_, &one, sizeof one);
  }
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);  // from now on: connection refused
  {
    std::lock_guard lock(conns_m_);
    for (auto& c : conns_) cut(c);
  }
  for (auto& c : conns_)
    if (c.thread.joinable()) c.thread.join();
  if (stop_fd_ >= 0) ::close(stop_fd_);
  OPENSSL_cleanse(token_.data(), token_.size());
}

void KubeApiProxy::cut(Conn& c) {
  std::lock_guard lock(c.m);
  if (c.client_fd >= 0) shutdown(c.client_fd, SHUT_RDWR);
  if (c.upstream_fd >= 0) shutdown(c.upstream_fd, SHUT_RDWR);
}

std::string KubeApiProxy::kubeconfig(const std::string& context, const std::string& namespace_name) const {
  return proxy_kubeconfig("https://127.0.0.1:" + std::to_string(port_), ca_pem_, token_, context, namespace_name);
}

std::string proxy_kubeconfig(const std::string& server, const std::string& ca_pem, const std::string& token,
                             const std::string& context, const std::string& namespace_name) {
  // JSON is YAML: no quoting questions.
  nlohmann::json ctx = {{"cluster", "bastion"}, {"user", "bastion"}};
  if (!namespace_name.empty()) ctx["namespace"] = namespace_name;
  nlohmann::json j = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", {{{"name", "bastion"}, {"cluster", {{"server", server}, {"certificate-authority-data", base64_encode(ca_pem)}}}}}},
      {"users", {{{"name", "bastion"}, {"user", {{"token", token}}}}}},
      {"contexts", {{{"name", context}, {"context", ctx}}}},
      {"current-context", context}};
  return j.dump(2) + "\n";
}

void KubeApiProxy::accept_loop() {
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // A response goes out as a head and a body: with Nagle, the body waits
    // for the client's delayed ACK on a kept-alive connection.
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    adopt(fd);
  }
}

bool KubeApiProxy::adopt(int fd) {
  std::lock_guard lock(conns_m_);
  // Reap finished connections.
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (it->done) {
      it->thread.join();
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
  if (conns_.size() >= kMaxConnections || stopping_) {
    ::close(fd);
    log_warn("kube proxy: too many connections", {{"session", session_id_}});
    return false;
  }
  Conn& c = conns_.emplace_back();
  c.client_fd = fd;
  c.thread = std::thread([this, &c] {
    try {
      serve(c);
    } catch (const std::exception& e) {  // a thread must not end the process
      log_error("kube proxy: connection failed", {{"session", session_id_}, {"error", e.what()}});
    }
    std::lock_guard l(c.m);
    ::close(c.client_fd);
    c.client_fd = -1;
    c.done = true;
  });
  return true;
}

void KubeApiProxy::serve(Conn& conn) {
  const int fd = conn.client_fd;
  set_timeout(fd, kHeadTimeoutSec);
  SslPtr ssl(SSL_new(tls_->server.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_accept(ssl.get()) != 1) return ERR_clear_error();
  KubeTlsIo client(ssl.get(), fd);
  // HTTP keep-alive: kubectl reuses its connection, which spares a TLS
  // handshake (and, through a tunnel, an SSH channel) per request. Every
  // request on it is read, authenticated and decided on its own.
  for (int n = 0; n < kMaxRequestsPerConnection && !stopping_; ++n) {
    bool keep = false;
    set_timeout(fd, kHeadTimeoutSec);
    serve_request(conn, client, keep);
    if (!keep) return;
  }
}

void KubeApiProxy::serve_request(Conn& conn, KubeTlsIo& client, bool& keep) {
  const int fd = conn.client_fd;
  std::string head_text, error;
  HttpHead req;
  if (!client.read_head(head_text)) return;
  if (!parse_http_request(head_text, req, error))
    return (void)send_status(client, 400, "Bad Request", "BadRequest", "bastion: " + error);

  // Only the session's token; compared in constant time.
  const std::string auth = req.get("Authorization").value_or("");
  const std::string want = "Bearer " + token_;
  if (req.count("Authorization") != 1 || auth.size() != want.size() ||
      CRYPTO_memcmp(auth.data(), want.data(), want.size()) != 0)
    return (void)send_status(client, 401, "Unauthorized", "Unauthorized", own_kubectl_ ? "bastion: this token is not the one for your certificate and this target; get a new kubeconfig (bastionctl kubeconfig)" : "bastion: a session token is required");
  for (const auto& [k, v] : req.headers)
    if (k.size() >= 12 && iequals(k.substr(0, 12), "Impersonate-"))
      return (void)send_status(client, 403, "Forbidden", "Forbidden", "bastion: denied: impersonation is not available");

  KubeRequestInfo info = kube_request_info(req.a, req.b);
  if (!info.error.empty())
    return (void)send_status(client, info.discovery || !info.resource ? 403 : 400,
                             info.discovery || !info.resource ? "Forbidden" : "Bad Request",
                             info.discovery || !info.resource ? "Forbidden" : "BadRequest",
                             "bastion: denied: " + info.error);
  // Only the connect verbs (exec, attach, portforward, proxy) may switch
  // protocols: an upgraded stream is relayed as bytes, which nothing could
  // mask (a WebSocket watch of Secrets would pass unmasked). Anything else
  // goes upstream without its Upgrade header and gets a plain response.
  const std::string& verb = info.facts.verb;
  const bool connect_verb = verb == "exec" || verb == "attach" || verb == "portforward" || verb == "proxy";
  const bool upgrade = connect_verb && req.get("Upgrade").has_value() &&
                       header_has_token(req.get("Connection").value_or(""), "upgrade");
  KubeAnswer answer;
  if (info.discovery) {
    answer.allowed = true;
    log_debug("kube proxy: discovery", {{"session", session_id_}, {"path", info.facts.path}});
  } else {
    KubeRequestFacts facts = info.facts;
    facts.own_kubectl = own_kubectl_;
    answer = queue_.ask(facts, decision_timeout_);
  }
  if (!answer.allowed)
    return (void)send_status(client, 403, "Forbidden", "Forbidden", "bastion: denied: " + answer.reason);
  // The bastion's own kubectl has its terminal output masked by the channel;
  // a user's own kubectl has only this proxy, which cannot mask a stream.
  if (own_kubectl_ && answer.mask_secrets && upgrade)
    return (void)send_status(client, 403, "Forbidden", "Forbidden",
                             "bastion: denied: output masking cannot apply to " + verb + " streams from your own kubectl");

  CommandOutcome outcome;
  struct Ender {  // the audit row ends however this request ends
    KubeDecisionQueue& q;
    int64_t id;
    CommandOutcome& o;
    ~Ender() { q.ended(id, o); }
  } ender{queue_, answer.command_id, outcome};
  outcome.status = 255;
  outcome.error = "no response";

  std::string body;
  if (req.content_length) {
    if (*req.content_length > kMaxBody ||
        !client.read_exact(*req.content_length, body))
      return (void)send_status(client, 413, "Request Entity Too Large", "RequestEntityTooLarge", "bastion: body too large");
  } else if (req.chunked) {
    for (bool last = false; !last;) {
      std::string chunk;
      if (!client.read_chunk(chunk, last) || body.size() + chunk.size() > kMaxBody)
        return (void)send_status(client, 400, "Bad Request", "BadRequest", "bastion: a malformed request body");
      body += chunk;
    }
  }
  set_timeout(fd, 0);  // watches, logs -f and exec last as long as they last

  // Upstream: the held credential, the server verified against the kubeconfig's CA.
  const int ufd = connect_tcp(upstream_.host, upstream_.port, error);
  if (ufd < 0) return (void)send_status(client, 502, "Bad Gateway", "ServiceUnavailable", "bastion: " + error);
  {
    std::lock_guard l(conn.m);
    conn.upstream_fd = ufd;
  }
  struct UpClose {
    Conn& c;
    ~UpClose() {
      std::lock_guard l(c.m);
      ::close(c.upstream_fd);
      c.upstream_fd = -1;
    }
  } up_close{conn};
  if (stopping_) return;
  set_timeout(ufd, kHeadTimeoutSec);
  SslPtr ussl(SSL_new(tls_->client.get()));
  if (!ussl || SSL_set_fd(ussl.get(), ufd) != 1) return;
  in6_addr a6;
  in_addr a4;
  const bool is_ip = inet_pton(AF_INET, upstream_.host.c_str(), &a4) == 1 ||
                     inet_pton(AF_INET6, upstream_.host.c_str(), &a6) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ussl.get()), upstream_.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ussl.get(), upstream_.host.c_str());
    SSL_set1_host(ussl.get(), upstream_.host.c_str());
  }
  if (SSL_connect(ussl.get()) != 1) {
    const std::string why = ssl_error();
    log_warn("kube proxy: API server TLS failed", {{"session", session_id_}, {"error", why}});
    return (void)send_status(client, 502, "Bad Gateway", "ServiceUnavailable",
                             "bastion: the API server could not be verified");
  }
  KubeTlsIo up(ussl.get(), ufd);

  HttpHead out = req;
  for (const char* h : {"Authorization", "Proxy-Authorization", "Proxy-Connection", "Keep-Alive", "TE",
                        "Accept-Encoding", "Transfer-Encoding", "Content-Length", "Host", "Trailer"})
    out.remove(h);
  if (!upgrade) {
    out.remove("Connection");
    out.remove("Upgrade");
    out.set("Connection", "close");
  }
  // Protobuf and YAML bodies cannot be masked here: ask for JSON.
  const std::string accept = out.get("Accept").value_or("");
  if (accept.find("protobuf") != std::string::npos || accept.find("yaml") != std::string::npos)
    out.set("Accept", "application/json");
  const bool ipv6 = upstream_.host.find(':') != std::string::npos;
  out.set("Host", (ipv6 ? "[" + upstream_.host + "]" : upstream_.host) + ":" + upstream_.port);
  if (!upstream_.token.empty()) out.set("Authorization", "Bearer " + upstream_.token);
  if (req.content_length || req.chunked) out.set("Content-Length", std::to_string(body.size()));
  if (!up.write_all(out.serialize() + body)) return (void)send_status(client, 502, "Bad Gateway", "ServiceUnavailable", "bastion: the API server went away");

  std::string rhead_text;
  HttpHead resp;
  if (!up.read_head(rhead_text) || !parse_http_response(rhead_text, resp, error))
    return (void)send_status(client, 502, "Bad Gateway", "ServiceUnavailable", "bastion: a malformed response");
  set_timeout(ufd, 0);
  const int code = std::atoi(resp.b.c_str());
  outcome.status = code < 400 ? 0 : code;
  outcome.error = code < 400 ? "" : "HTTP " + resp.b;

  if (code == 101) {
    if (!upgrade) return;
    if (!client.write_all(rhead_text)) return;
    relay_upgraded(client, up);
    return;
  }
  resp.remove("Connection");
  resp.remove("Keep-Alive");
  // The client's connection lives on only after a response whose end it can
  // tell (a length or chunks), and only if it asked to.
  const bool no_body = req.a == "HEAD" || code == 204 || code == 304;
  const bool wants = req.c == "HTTP/1.1" && !header_has_token(req.get("Connection").value_or(""), "close");
  const bool framed = no_body || resp.chunked || resp.content_length || answer.mask_secrets;
  resp.set("Connection", wants && framed ? "keep-alive" : "close");
  const bool secret_resource = info.facts.resource == "secrets";
  if (!answer.mask_secrets) {
    if (!client.write_all(resp.serialize())) return;
    if (no_body) return (void)(keep = wants);
    if (resp.chunked) return (void)(keep = relay_chunked(up, client, false, false) && wants);
    if (resp.content_length) {
      std::size_t left = *resp.content_length;
      while (left > 0) {
        if (up.buf.empty() && up.fill() == 0) return;
        const std::size_t n = std::min(left, up.buf.size());
        if (!client.write_all(std::string_view(up.buf).substr(0, n))) return;
        up.buf.erase(0, n);
        left -= n;
      }
      keep = wants;
      return;
    }
    for (;;) {  // until close
      if (!up.buf.empty() && !client.write_all(up.buf)) return;
      up.buf.clear();
      if (up.fill() == 0) return;
    }
  }
  // Masked: JSON only (fail closed), a watch event by event, else the whole body.
  const std::string ctype = resp.get("Content-Type").value_or("");
  if (resp.get("Content-Encoding").has_value() || (!ctype.starts_with("application/json") && code < 300)) {
    outcome.status = 502;
    return (void)send_status(client, 502, "Bad Gateway", "ServiceUnavailable",
                             "bastion: a response that cannot be masked (" + ctype + ")");
  }
  if (resp.chunked && info.facts.verb == "watch") {
    if (!client.write_all(resp.serialize())) return;
    keep = relay_chunked(up, client, true, secret_resource) && wants;
    return;
  }
  std::string rbody;
  if (resp.chunked) {
    for (bool last = false; !last;) {
      std::string chunk;
      if (!up.read_chunk(chunk, last) || rbody.size() + chunk.size() > kMaxBody) return;
      rbody += chunk;
    }
  } else if (resp.content_length) {
    if (*resp.content_length > kMaxBody || !up.read_exact(*resp.content_length, rbody)) return;
  } else {
    while (up.fill() != 0)
      if (up.buf.size() > kMaxBody) return;
    rbody.swap(up.buf);
  }
  if (!rbody.empty() && !mask_kube_body(rbody, secret_resource)) {
    outcome.status = 502;
    return (void)send_status(client, 502, "Bad Gateway", "ServiceUnavailable", "bastion: a response that cannot be masked");
  }
  resp.remove("Transfer-Encoding");
  resp.set("Content-Length", std::to_string(rbody.size()));
  keep = client.write_all(resp.serialize() + rbody) && wants;
}

}  // namespace bastion
