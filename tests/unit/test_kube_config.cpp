// The held kubeconfig as the API proxy reads it: server, CA, credential;
// anything that would run a program or skip verification is refused.
#include <catch2/catch.hpp>

#include "targets/kubectl/kube_config.h"

using namespace bastion;

namespace {
const char* kCa = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==";  // "-----BEGIN CERTIFICATE-----\n"

std::string config(const std::string& cluster_extra, const std::string& user) {
  return std::string("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n"
                     "    certificate-authority-data: ") + kCa + "\n" + cluster_extra +
         "users:\n- name: u\n  user:\n" + user +
         "contexts:\n- name: main\n  context:\n    cluster: c\n    user: u\n    namespace: web\n"
         "current-context: main\n";
}
std::string error_of(const std::string& text, const std::string& ctx = "") {
  KubeUpstream u;
  std::string e;
  return parse_kubeconfig(text, ctx, u, e) ? "ok" : e;
}
}  // namespace

TEST_CASE("token credentials", "[kube_config]") {
  KubeUpstream u;
  std::string e;
  REQUIRE(parse_kubeconfig(config("", "    token: abc\n"), "", u, e));
  CHECK(u.host == "10.0.0.1");
  CHECK(u.port == "6443");
  CHECK(u.ca_pem == "-----BEGIN CERTIFICATE-----\n");
  CHECK(u.token == "abc");
  CHECK(u.context == "main");
  CHECK(u.namespace_name == "web");
  CHECK(error_of(config("", "    token: abc\n"), "other") == "the kubeconfig has no context other");
}

TEST_CASE("client certificates", "[kube_config]") {
  KubeUpstream u;
  std::string e;
  REQUIRE(parse_kubeconfig(config("", "    client-certificate-data: Y2VydA==\n    client-key-data: a2V5\n"), "", u, e));
  CHECK(u.client_cert_pem == "cert");
  CHECK(u.client_key_pem == "key");
  CHECK(u.token.empty());
}

TEST_CASE("what the proxy will not do", "[kube_config]") {
  CHECK(error_of(config("    insecure-skip-tls-verify: true\n", "    token: a\n")) ==
        "insecure-skip-tls-verify is refused: the API server must be verified");
  CHECK(error_of(config("    certificate-authority: /etc/ca.pem\n", "    token: a\n")) ==
        "use certificate-authority-data (inline) in the held kubeconfig");
  CHECK(error_of(config("", "    exec:\n      command: aws\n")) == "user.exec is not supported in the held kubeconfig");
  CHECK(error_of(config("", "    auth-provider:\n      name: gcp\n")) ==
        "user.auth-provider is not supported in the held kubeconfig");
  CHECK(error_of(config("", "    username: a\n")) == "user.username is not supported in the held kubeconfig");
  CHECK(error_of(config("", "    {}\n")) == "the kubeconfig's user has neither token nor client-certificate-data");
  CHECK(error_of("server: [") == "the kubeconfig is not valid YAML");
  CHECK(error_of("- a\n") == "the kubeconfig is not a YAML map");
  std::string http = config("", "    token: a\n");
  http.replace(http.find("https://"), 8, "http://");
  CHECK(error_of(http) == "the kubeconfig's server must be https://");
}
