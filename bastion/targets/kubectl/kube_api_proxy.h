// The per-session Kubernetes API proxy. kubectl (the session's child) talks
// to it on 127.0.0.1 over TLS with a random per-session bearer token; it is
// the only credential kubectl ever gets. Each request is read as the API
// server would authorize it, decided by the policy on the session thread
// (KubeDecisionQueue), refused with a Kubernetes Status 403, or sent
// upstream over TLS with the held credential, the server verified against
// the held kubeconfig's CA. Responses come back with Secret values masked
// when the decision masks; upgrades (exec, attach, port-forward) are relayed
// as bytes once allowed. One thread per connection; all of it ends with the
// session (the token stops working, connections are cut).
#pragma once
#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "targets/kubectl/kube_config.h"
#include "targets/kubectl/kube_decision_queue.h"
#include "targets/kubectl/kube_proxy_identity.h"

namespace bastion {

struct KubeTls;    // OpenSSL contexts (kube_api_proxy.cpp)
class KubeTlsIo;   // one TLS connection's buffered I/O (kube_api_proxy.cpp)

// A kubeconfig pointing kubectl at a proxy: its URL, the certificate to
// trust (only it), the bearer token.
std::string proxy_kubeconfig(const std::string& server, const std::string& ca_pem, const std::string& token,
                             const std::string& context, const std::string& namespace_name);

class KubeApiProxy {
 public:
  struct Options {
    const KubeProxyIdentity* identity = nullptr;  // null: a fresh one for this proxy
    std::string token;                            // empty: a random one for this proxy
    bool listen = true;                           // false: connections come only through adopt()
    bool own_kubectl = false;                     // it serves users' own kubectl (requests say so to the policy)
    std::chrono::milliseconds decision_timeout{30000};  // no policy answer by then: refused
  };
  static std::unique_ptr<KubeApiProxy> start(const KubeUpstream& upstream, const std::string& session_id,
                                             std::string& error, const Options& opts);
  static std::unique_ptr<KubeApiProxy> start(const KubeUpstream& upstream, const std::string& session_id,
                                             std::string& error) {
    return start(upstream, session_id, error, Options{});
  }
  // Serves one more client connection (a stream socket this proxy now owns).
  // False (and the socket closed) past the connection limit or once stopping.
  bool adopt(int fd);
  ~KubeApiProxy();
  KubeApiProxy(const KubeApiProxy&) = delete;
  KubeApiProxy& operator=(const KubeApiProxy&) = delete;

  int port() const { return port_; }
  const std::string& ca_pem() const { return ca_pem_; }  // the proxy's own certificate (self-signed)
  const std::string& token() const { return token_; }
  KubeDecisionQueue& queue() { return queue_; }

  // A kubeconfig for kubectl: this proxy, its CA, the session token.
  std::string kubeconfig(const std::string& context, const std::string& namespace_name) const;

 private:
  KubeApiProxy() = default;
  void accept_loop();
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
    std::mutex m;
    int client_fd = -1, upstream_fd = -1;
  };
  void serve(Conn& c);
  // One request on the connection; `keep` when another may follow.
  void serve_request(Conn& c, KubeTlsIo& client, bool& keep);
  void cut(Conn& c);

  KubeUpstream upstream_;
  std::string session_id_;
  std::unique_ptr<KubeTls> tls_;
  std::string ca_pem_, token_;
  int listen_fd_ = -1, stop_fd_ = -1, port_ = 0;
  KubeDecisionQueue queue_;
  std::mutex conns_m_;
  std::list<Conn> conns_;
  std::atomic<bool> stopping_{false};
  bool own_kubectl_ = false;
  std::chrono::milliseconds decision_timeout_{30000};
  std::thread acceptor_;
};

}  // namespace bastion
