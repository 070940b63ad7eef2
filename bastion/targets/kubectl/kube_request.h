// A Kubernetes API request (method + request target) read as the API
// server's request-info resolver reads it, so the policy decides on what
// the cluster will do: verb, group, version, resource, subresource,
// namespace, name, and for exec/attach the command.
#pragma once
#include <string>

#include "policy/policy.h"
#include "targets/kubectl/kubectl_facts.h"

namespace bastion {

struct KubeRequestInfo {
  bool resource = false;  // false: a non-resource path (/api, /apis, /version, /openapi/...): discovery
  bool discovery = false; // a non-resource path allowed without a policy call
  KubeRequestFacts facts;
  std::string error;      // non-empty: refuse (malformed or unsupported path)
};

// `target` is the HTTP request target (path and query, origin form).
KubeRequestInfo kube_request_info(const std::string& method, const std::string& target);

// "GET /api/v1/namespaces/web/pods": the audit text (no query string).
std::string kube_request_text(const KubeRequestFacts& f);

// Percent-decodes a query component ('+' is a space); false on a bad escape.
bool url_decode(const std::string& in, std::string& out, bool plus_is_space);

}  // namespace bastion
