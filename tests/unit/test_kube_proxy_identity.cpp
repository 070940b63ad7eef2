// The API proxy's lasting identity and the per-certificate tunnel tokens.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "targets/kubectl/kube_proxy_identity.h"
#include "test_util.h"

using namespace bastion;

TEST_CASE("the proxy identity is made once, kept private, and read back unchanged") {
  testutil::TempDir d;
  const std::string path = d / "kube-proxy.pem";
  KubeProxyIdentity a, b;
  std::string err;
  REQUIRE(load_or_create_kube_proxy_identity(path, a, err));
  struct stat st{};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(a.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(a.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
  REQUIRE(load_or_create_kube_proxy_identity(path, b, err));
  CHECK(b.cert_pem == a.cert_pem);
  CHECK(b.key_pem == a.key_pem);
  // What the certificate says: 127.0.0.1 and localhost, about ten years.
  const std::string text = testutil::capture("openssl x509 -noout -ext subjectAltName -enddate -in " + path);
  CHECK(text.find("IP Address:127.0.0.1") != std::string::npos);
  CHECK(text.find("DNS:localhost") != std::string::npos);
  CHECK(text.find(std::to_string(2026 + 10)) != std::string::npos);
}

TEST_CASE("a proxy identity others can read, or that is not one, is refused, never replaced") {
  testutil::TempDir d;
  const std::string path = d / "kube-proxy.pem";
  KubeProxyIdentity a;
  std::string err;
  REQUIRE(load_or_create_kube_proxy_identity(path, a, err));
  chmod(path.c_str(), 0644);
  CHECK_FALSE(load_or_create_kube_proxy_identity(path, a, err));
  CHECK(err.find("0644") != std::string::npos);
  testutil::sh("printf 'junk' > " + path + " && chmod 600 " + path);
  CHECK_FALSE(load_or_create_kube_proxy_identity(path, a, err));
  CHECK(err == path + ": not a PEM private key and certificate");
  // A key and a certificate that do not belong together.
  KubeProxyIdentity x, y;
  REQUIRE(make_kube_proxy_identity(1, x, err));
  REQUIRE(make_kube_proxy_identity(1, y, err));
  testutil::sh("rm " + path);
  {
    std::ofstream f(path);
    f << x.key_pem << y.cert_pem;
  }
  chmod(path.c_str(), 0600);
  CHECK_FALSE(load_or_create_kube_proxy_identity(path, a, err));
  CHECK(err == path + ": the key does not match the certificate");
  CHECK(testutil::capture("cat " + path).find(y.cert_pem) != std::string::npos);  // left as it was
}

TEST_CASE("tunnel tokens are bound to the key, the target and the certificate") {
  const std::string key(32, 'k'), other_key(32, 'K');
  const std::string t = kube_tunnel_token(key, "k8s", "cert-one");
  CHECK(t.size() == 64);
  CHECK(t.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(kube_tunnel_token(key, "k8s", "cert-one") == t);
  CHECK(kube_tunnel_token(key, "k8s", "cert-two") != t);
  CHECK(kube_tunnel_token(key, "k8s2", "cert-one") != t);
  CHECK(kube_tunnel_token(other_key, "k8s", "cert-one") != t);
  // The separator keeps target and certificate apart.
  CHECK(kube_tunnel_token(key, "k8s", std::string("x\0y", 3)) != kube_tunnel_token(key, std::string("k8s\0x", 5), "y"));
}
