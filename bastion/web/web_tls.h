// The web listener's TLS identity: the configured web_cert/web_key, or a
// self-signed P-256 certificate for 127.0.0.1 and localhost made at first
// start in data_dir (web-key.pem 0600, web-cert.pem 0644 for browsers and
// clients to trust) and reused while valid. Never replaced silently: a
// broken or expired pair is an error, since browsers were told to trust it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "common/openssl_handles.h"

namespace bastion {

struct WebTlsIdentity {
  PkeyPtr key;
  std::vector<X509Ptr> chain;  // leaf first
  std::string cert_path;       // where clients find the certificate
};

inline const char* kWebSelfSignedCert = "web-cert.pem";
inline const char* kWebSelfSignedKey = "web-key.pem";

// cert_file/key_file both empty: the self-signed pair in data_dir.
bool load_web_tls_identity(const std::string& cert_file, const std::string& key_file, const std::string& data_dir,
                           WebTlsIdentity& out, std::string& error);

// TLS 1.2 or later, no renegotiation, no compression, this identity.
bool configure_web_ssl_ctx(SSL_CTX& ctx, const WebTlsIdentity& id);

}  // namespace bastion
