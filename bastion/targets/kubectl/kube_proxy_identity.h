// The API proxy's own TLS identity: a P-256 key and a self-signed
// certificate for 127.0.0.1 and localhost, which the kubeconfig kubectl gets
// trusts exactly. Per-session proxies make a fresh one valid a day; the
// proxy that serves users' own kubectl (through `ssh -L`) uses one kept in
// data_dir, so the kubeconfig `bastionctl kubeconfig` prints keeps working.
#pragma once
#include <string>

namespace bastion {

struct KubeProxyIdentity {
  std::string cert_pem;
  std::string key_pem;  // wiped on destruction
  KubeProxyIdentity() = default;
  KubeProxyIdentity(const KubeProxyIdentity&) = default;
  KubeProxyIdentity& operator=(const KubeProxyIdentity&) = default;
  ~KubeProxyIdentity();
};

bool make_kube_proxy_identity(int valid_days, KubeProxyIdentity& out, std::string& error);

// Reads `path` (key and certificate, PEM, mode 0600 like every held
// secret), or creates it valid ten years. A file that does not hold a usable
// pair, or whose certificate has expired, is an error: never replaced
// silently, since users' kubeconfigs trust it.
bool load_or_create_kube_proxy_identity(const std::string& path, KubeProxyIdentity& out, std::string& error);

// The per-certificate token users' own kubectl presents through the tunnel:
// HMAC-SHA256 under the bastion's key over the target and the certificate's
// signed bytes. Worthless without the SSH session of that certificate (the
// tunnel only exists inside it) and it dies with the certificate.
std::string kube_tunnel_token(const std::string& key, const std::string& target, const std::string& cert_signed_data);

}  // namespace bastion
