// The web listener's TLS identity: a self-signed pair made once in
// data_dir and reused; a configured pair read as a held credential.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <openssl/x509.h>

#include "web/web_tls.h"
#include "test_util.h"

using namespace bastion;

TEST_CASE("the self-signed web certificate is made once and reused") {
  testutil::TempDir d;
  WebTlsIdentity a, b;
  std::string err;
  REQUIRE(load_web_tls_identity("", "", d.path().string(), a, err));
  const std::string cert = d / kWebSelfSignedCert, key = d / kWebSelfSignedKey;
  CHECK(a.cert_path == cert);
  struct stat st{};
  REQUIRE(stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(cert.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  REQUIRE(load_web_tls_identity("", "", d.path().string(), b, err));
  REQUIRE(a.chain.size() == 1);
  REQUIRE(b.chain.size() == 1);
  CHECK(X509_cmp(a.chain[0].get(), b.chain[0].get()) == 0);
  const std::string text = testutil::capture("openssl x509 -noout -text -in " + cert);
  CHECK(text.find("IP Address:127.0.0.1") != std::string::npos);
  CHECK(text.find("DNS:localhost") != std::string::npos);
  CHECK(text.find("prime256v1") != std::string::npos);
}

TEST_CASE("a broken web identity is an error, never replaced") {
  testutil::TempDir d;
  WebTlsIdentity a;
  std::string err;
  REQUIRE(load_web_tls_identity("", "", d.path().string(), a, err));
  const std::string key = d / kWebSelfSignedKey;
  REQUIRE(::unlink(key.c_str()) == 0);
  CHECK_FALSE(load_web_tls_identity("", "", d.path().string(), a, err));
  CHECK(err == key + ": missing (remove " + (d / kWebSelfSignedCert) + " to make a new self-signed pair)");
  // A configured key others can read is refused like any held credential.
  testutil::TempDir e;
  REQUIRE(load_web_tls_identity("", "", e.path().string(), a, err));
  const std::string k2 = e / kWebSelfSignedKey;
  REQUIRE(::chmod(k2.c_str(), 0644) == 0);
  CHECK_FALSE(load_web_tls_identity(e / kWebSelfSignedCert, k2, "", a, err));
  CHECK(err.find(k2) == 0);
}
