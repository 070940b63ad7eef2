// A self-signed P-256 certificate for a server on loopback (127.0.0.1 and
// localhost): the auditors' web page and the kubectl API proxy. CA:TRUE with
// pathlen 0, so a client can name this very certificate as its trust anchor.
// P-256 because browsers take it as a server key (not all take Ed25519).
#pragma once
#include <string>

namespace bastion {

struct LoopbackCertificate {
  std::string cert_pem, key_pem;
  ~LoopbackCertificate();  // wipes key_pem
};

bool make_loopback_certificate(const std::string& common_name, int valid_days, LoopbackCertificate& out,
                               std::string& error);

}  // namespace bastion
