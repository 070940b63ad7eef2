// An ssh target's settings and held credential, as its config reads them.
#pragma once
#include <string>

#include "common/secret_file.h"
#include "config/config.h"

namespace bastion {

struct SshSettings : TargetSettings {
  std::string host;
  int port = 22;
  std::string known_hosts;    // required: strict host key checking
  int connect_timeout = 10;   // seconds
};

struct SshCredential : HeldCredential {
  std::string user;
  std::string identity;          // private key file
  std::string certificate;       // optional: identity's certificate (-cert.pub)
  HeldSecret identity_key;       // the identity file's content
  std::string certificate_text;  // the certificate file's content
};

}  // namespace bastion
