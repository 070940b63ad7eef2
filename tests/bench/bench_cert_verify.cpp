// Cost of deciding a login: parse + verify a user certificate, per CA type.
// Baseline in the same run: OpenSSL's raw signature verify for that key type,
// so the ratio shows what parsing and policy add on top of the crypto.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "auth/cert_verifier.h"
#include "auth/public_key.h"
#include "auth/ssh_signature.h"
#include "recorder/utf8.h"

namespace {

struct Fixture {
  std::string dir, blob;
  std::vector<bastion::PublicKey> cas;
  bastion::SshCertificate cert;
  explicit Fixture(const std::string& type) {
    char tmpl[] = "/tmp/bastion-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    const std::string bits = type == "rsa" ? " -b 3072" : "";
    const std::string cmd = "ssh-keygen -q -N '' -t " + type + bits + " -f " + dir + "/ca && "
                            "ssh-keygen -q -N '' -t ed25519 -f " + dir + "/u && "
                            "ssh-keygen -q -s " + dir + "/ca" + (type == "rsa" ? " -t rsa-sha2-512" : "") +
                            " -I alice -n ops,dev -V -5m:+1h " + dir + "/u.pub";
    if (std::system(cmd.c_str()) != 0) std::abort();
    std::ifstream in(dir + "/u-cert.pub");
    std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto a = line.find(' '), b = line.find(' ', a + 1);
    recorder::base64_decode(line.substr(a + 1, b - a - 1), blob);
    std::string err;
    bastion::load_public_keys(dir + "/ca.pub", cas, err);
    bastion::parse_ssh_certificate(blob, cert, err);
  }
  ~Fixture() { std::system(("rm -rf " + dir).c_str()); }
};

void BM_ParseVerify(benchmark::State& st, const char* type) {
  Fixture f(type);
  bastion::TrustAnchors anchors{f.cas, nullptr, 60};
  for (auto _ : st) {
    bastion::SshCertificate c;
    std::string err;
    bastion::parse_ssh_certificate(f.blob, c, err);
    auto v = bastion::verify_user_certificate(c, anchors, 1800000000 - 86400 * 365, "127.0.0.1");
    benchmark::DoNotOptimize(v);
  }
}

void BM_SignatureOnly(benchmark::State& st, const char* type) {
  Fixture f(type);
  for (auto _ : st) {
    std::string err;
    benchmark::DoNotOptimize(
        bastion::verify_ssh_signature(f.cert.signature_key, f.cert.signature, f.cert.signed_data, err));
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_ParseVerify, ed25519, "ed25519");
BENCHMARK_CAPTURE(BM_SignatureOnly, ed25519, "ed25519");
BENCHMARK_CAPTURE(BM_ParseVerify, ecdsa, "ecdsa");
BENCHMARK_CAPTURE(BM_SignatureOnly, ecdsa, "ecdsa");
BENCHMARK_CAPTURE(BM_ParseVerify, rsa3072, "rsa");
BENCHMARK_CAPTURE(BM_SignatureOnly, rsa3072, "rsa");
BENCHMARK_MAIN();
