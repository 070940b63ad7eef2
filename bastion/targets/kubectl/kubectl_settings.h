// A kubectl target's settings and held credential, as its config reads them.
#pragma once
#include <string>

#include "common/secret_file.h"
#include "config/config.h"

namespace bastion {

struct KubectlSettings : TargetSettings {
  std::string context;                 // optional: the default credential's context; the name kubectl is given
  std::string namespace_name = "default";  // when the user names none
  std::string kubectl = "/usr/bin/kubectl";
  bool sandbox = true;                 // run kubectl under bubblewrap (sandbox.h)
  std::string bwrap = "/usr/bin/bwrap";
  int decision_timeout = 30;           // seconds the API proxy waits for a policy answer
};

struct KubectlCredential : HeldCredential {
  std::string kubeconfig;        // readable by bastiond only
  std::string context;           // optional: a context in it (else its current-context)
  HeldSecret kubeconfig_text;    // its content
};

inline const KubectlSettings& kubectl_settings(const TargetConfig& t) {
  return kind_part<KubectlSettings>(t.settings.get());
}

}  // namespace bastion
