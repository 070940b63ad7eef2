// Kubernetes API requests read as the API server's request-info resolver
// reads them: the facts the policy decides on (c.kube).
#include <catch2/catch.hpp>

#include "targets/kubectl/kube_request.h"

using namespace bastion;

namespace {
// "verb group version resource subresource namespace name" for compact checks.
std::string facts(const std::string& method, const std::string& target) {
  const KubeRequestInfo i = kube_request_info(method, target);
  if (!i.error.empty()) return "error: " + i.error;
  const KubeRequestFacts& f = i.facts;
  std::string s = (i.discovery ? "discovery " : "") + f.verb + "|" + f.group + "|" + f.version + "|" + f.resource +
                  "|" + f.subresource + "|" + f.namespace_name + "|" + f.name;
  for (const auto& c : f.command) s += "|cmd:" + c;
  return s;
}
}  // namespace

TEST_CASE("verbs from method and path", "[kube_request]") {
  CHECK(facts("GET", "/api/v1/namespaces/web/pods") == "list||v1|pods||web|");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods?limit=500") == "list||v1|pods||web|");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods?watch=true&resourceVersion=1") == "watch||v1|pods||web|");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods?watch=1") == "watch||v1|pods||web|");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods?watch=false") == "list||v1|pods||web|");
  CHECK(facts("GET", "/api/v1/watch/namespaces/web/pods") == "watch||v1|pods||web|");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods/api-1") == "get||v1|pods||web|api-1");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods?fieldSelector=metadata.name%3Dapi-1&watch=true") ==
        "watch||v1|pods||web|");
  CHECK(facts("POST", "/api/v1/namespaces/web/pods") == "create||v1|pods||web|");
  CHECK(facts("PUT", "/apis/apps/v1/namespaces/web/deployments/api") == "update|apps|v1|deployments||web|api");
  CHECK(facts("PATCH", "/apis/apps/v1/namespaces/web/deployments/api/scale") ==
        "patch|apps|v1|deployments|scale|web|api");
  CHECK(facts("DELETE", "/api/v1/namespaces/web/pods/api-1") == "delete||v1|pods||web|api-1");
  CHECK(facts("DELETE", "/api/v1/namespaces/web/pods?labelSelector=app%3Dapi") == "deletecollection||v1|pods||web|");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods/api-1/log?follow=true") == "get||v1|pods|log|web|api-1");
}

TEST_CASE("cluster-scoped resources and namespaces themselves", "[kube_request]") {
  CHECK(facts("GET", "/api/v1/nodes") == "list||v1|nodes|||");
  CHECK(facts("GET", "/api/v1/pods") == "list||v1|pods|||");  // all namespaces
  CHECK(facts("GET", "/api/v1/namespaces") == "list||v1|namespaces|||");
  CHECK(facts("GET", "/api/v1/namespaces/web") == "get||v1|namespaces||web|web");
  CHECK(facts("DELETE", "/api/v1/namespaces/web") == "delete||v1|namespaces||web|web");
  CHECK(facts("PUT", "/api/v1/namespaces/web/finalize") == "update||v1|namespaces|finalize|web|web");
  CHECK(facts("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin") ==
        "get|rbac.authorization.k8s.io|v1|clusterroles|||admin");
}

TEST_CASE("connect subresources are their own verbs", "[kube_request]") {
  CHECK(facts("POST", "/api/v1/namespaces/web/pods/api-1/exec?command=sh&command=-c&command=id%20-u&stdin=true&tty=true") ==
        "exec||v1|pods|exec|web|api-1|cmd:sh|cmd:-c|cmd:id -u");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods/api-1/exec?command=ls") == "exec||v1|pods|exec|web|api-1|cmd:ls");
  CHECK(facts("POST", "/api/v1/namespaces/web/pods/api-1/attach?stdin=true") == "attach||v1|pods|attach|web|api-1");
  CHECK(facts("POST", "/api/v1/namespaces/web/pods/api-1/portforward?ports=5432") ==
        "portforward||v1|pods|portforward|web|api-1");
  CHECK(facts("GET", "/api/v1/namespaces/web/services/db:5432/proxy/some/path") ==
        "proxy||v1|services|proxy|web|db:5432");
  // `command` means nothing outside exec.
  CHECK(facts("GET", "/api/v1/namespaces/web/pods?command=x") == "list||v1|pods||web|");
}

TEST_CASE("API discovery passes; other non-resource paths are decided", "[kube_request]") {
  for (const char* p : {"/", "/api", "/apis", "/apis/apps", "/version", "/openapi/v2", "/openapi/v3/apis/apps/v1"})
    CHECK(facts("GET", p) == "discovery get||||||");
  // What the API server also serves with the held credential: node logs,
  // metrics, profiles, health details. A policy decides them (resource "").
  for (const char* p : {"/metrics", "/logs/kube-apiserver.log", "/debug/pprof/goroutine", "/healthz", "/livez/etcd",
                        "/version/x"}) {
    CHECK(facts("GET", p) == "get||||||");
    CHECK(kube_request_info("GET", p).facts.path == p);
  }
  CHECK(facts("GET", "/api/v1") == "discovery get||v1||||");
  CHECK(facts("GET", "/apis/apps/v1") == "discovery get|apps|v1||||");
  CHECK(facts("POST", "/version") == "error: only GET is allowed on /version");
  CHECK(kube_request_info("GET", "/api/v1/namespaces/web/pods").discovery == false);
}

TEST_CASE("paths that could mean two things are refused", "[kube_request]") {
  CHECK(facts("GET", "/api/v1/namespaces/web%2Fpods") == "error: a malformed request path");
  CHECK(facts("GET", "/api/v1/namespaces/web/../kube-system/secrets") == "error: a malformed request path");
  CHECK(facts("GET", "/api/v1/namespaces/./pods") == "error: a malformed request path");
  CHECK(facts("GET", "/api//v1/pods") == "error: a malformed request path");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods/a/b/c") == "error: a malformed request path");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods/%zz") == "error: a malformed request path");
  CHECK(facts("GET", "/api/v1/namespaces/web/pods/a%00") == "error: a malformed request path");
  CHECK(facts("GET", "/api/v1/pods?watch=%") == "error: a malformed query string");
  CHECK(facts("GET", "api/v1/pods") == "error: the request path must start with /");
  CHECK(facts("TRACE", "/api/v1/pods") == "error: method TRACE is not a Kubernetes API verb");
  CHECK(facts("GET", "/api/v1/watch") == "error: a malformed request path");
  // Percent-encoded names are decoded as the API server does.
  CHECK(facts("GET", "/api/v1/namespaces/w%65b/pods/api%2D1") == "get||v1|pods||web|api-1");
}

TEST_CASE("the audit text", "[kube_request]") {
  const auto i = kube_request_info("GET", "/api/v1/namespaces/web/pods?watch=true");
  CHECK(kube_request_text(i.facts) == "GET /api/v1/namespaces/web/pods");
  CHECK(i.facts.path == "/api/v1/namespaces/web/pods");
  CHECK(i.facts.method == "GET");
}
