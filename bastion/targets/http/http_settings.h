// An HTTP target's settings and held credential, as its config reads them.
#pragma once
#include <string>
#include <vector>

#include "common/secret_file.h"
#include "config/config.h"

namespace bastion {

struct HttpSettings : TargetSettings {
  std::string url;       // "https://registry.internal:5000" (a base path is kept)
  std::string origin;    // "https://registry.internal:5000": Location headers starting with it are made relative
  std::string base_path; // "" or "/prefix" (no trailing slash)
  bool loopback_http = false;  // http:// (allowed only to a loopback host)
  std::string ca_file;   // "" : the system store
  bool registry = false; // OCI/Docker registry: the token flow, c.http.registry
  // URL prefixes a registry's token realm must start with for the held
  // credential to be sent there (default: the url's origin + "/").
  std::vector<std::string> token_realms;
  int decision_timeout = 30;  // seconds a request waits for a policy answer (not a review)
  // Slow or silent clients cannot hold a worker thread: a request head
  // must be whole this many seconds after its first byte (a new
  // connection: after it opened), and a connection with no client byte
  // this long (between requests, or inside a body) is closed.
  int request_head_timeout = 30;
  int idle_timeout = 60;
};

struct HttpCredential : HeldCredential {
  std::string basic_user;
  HeldSecret basic_password;  // basic = { user = ..., password_file = ... }
  HeldSecret bearer;          // bearer_file
  std::string client_cert;    // PEM file, given to OpenSSL by path
  HeldSecret client_key;      // PEM, read once at load
};

inline const HttpSettings& http_settings(const TargetConfig& t) { return kind_part<HttpSettings>(t.settings.get()); }

}  // namespace bastion
