// The held kubeconfig, read for the API proxy's upstream leg: the server,
// the CA that verifies it, and the credential (a bearer token, or a client
// certificate and key). Only inline data is accepted; anything that would
// run a program (exec, auth-provider) or skip verification is refused.
#pragma once
#include <string>

namespace bastion {

struct KubeUpstream {
  std::string host, port;  // from `server` (https only)
  std::string ca_pem;      // certificate-authority-data, decoded
  std::string token;       // user.token
  std::string client_cert_pem, client_key_pem;  // client-certificate-data, client-key-data, decoded
  std::string context;     // the context used
  std::string namespace_name;
};

// `context`: the configured one, or empty for current-context.
bool parse_kubeconfig(const std::string& text, const std::string& context, KubeUpstream& out, std::string& error);

}  // namespace bastion
