// What the HTTP target read from one request (command kind "http"), as
// policies read it (c.http) and the audit row's details record it. The
// held credential never enters: the client's Authorization, Proxy-Authorization
// and Cookie headers are left out (the bastion drops them anyway).
#pragma once
#include <map>
#include <optional>
#include <string>

#include "policy/command_facts.h"

namespace bastion {

// An OCI/Docker registry request (targets with registry = true), from
// method + /v2/ path shape:
//   GET/HEAD .../manifests/REF, .../blobs/DIGEST, .../tags/list   pull
//   POST/PATCH/PUT/GET .../blobs/uploads/[UUID], PUT .../manifests/REF  push
//   DELETE anything                                               delete
//   GET /v2/_catalog                                              catalog
//   GET/HEAD /v2/ (the API version check clients start with)      ping
// Anything else has action "" (policies should refuse it).
struct HttpRegistryFacts {
  std::string repository, reference, action;
  // A cross-repository blob mount (POST .../blobs/uploads/?mount=D&from=R):
  // R, decoded, whose blob the registry reads into `repository`; else "".
  std::string from;
};

struct HttpFacts {
  std::string method, path, query;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined with ", "
  std::optional<HttpRegistryFacts> registry;
};

// "METHOD /path" or "METHOD /path?query": the audit row's text, the
// recording's summary and what an approver sees.
std::string http_request_text(const HttpFacts& f);

// The registry facts of a request, or an error when the path cannot be a
// registry API path the policy could reason about.
HttpRegistryFacts registry_facts(const std::string& method, const std::string& path);

// Fills f.registry->from for a blob upload start, from the query as the
// registry reads it (decoded; its form values the same). Fail closed: a
// query or body the policy could read otherwise than the registry (a form
// body, an undecodable or repeated parameter, '+' or ';') leaves action "".
void registry_mount_facts(HttpFacts& f);

// A path the policy reads as the upstream would: refused when it holds dot
// segments, empty segments, or percent-encoded '/', '.', '\\' or '%'
// (an upstream that normalises would serve another path than the one
// decided). Empty when fine, else why.
std::string http_path_problem(const std::string& path);

// A query the policy reads as the upstream would: refused when it holds a
// percent-encoded unreserved character ("f%6frce=true" is "force=true" to
// an upstream that decodes) or a '%' that is not an encoding. Empty when
// fine, else why.
std::string http_query_problem(const std::string& query);

// Splits a request target into path and query.
void split_target(const std::string& target, std::string& path, std::string& query);

// Headers a policy may read: everything but credentials.
bool http_header_is_credential(const std::string& lower_name);

class HttpCommandFacts : public CommandFacts {
 public:
  explicit HttpCommandFacts(HttpFacts f) : facts(std::move(f)) {}
  const char* field() const override { return "http"; }
  void describe(FactWriter& out) const override;
  std::string audit_details() const override;
  const HttpFacts facts;
};

}  // namespace bastion
