// What the policy reads from an HTTP request: registry facts from method +
// path shape, and the paths the bastion refuses before any policy.
#include <catch2/catch.hpp>

#include "targets/http/http_connection.h"
#include "targets/http/http_facts.h"
#include "targets/http/http_relay_rules.h"
#include "targets/http/http_token_cache.h"

using namespace bastion;

namespace {
std::string reg(const std::string& method, const std::string& path) {
  const HttpRegistryFacts r = registry_facts(method, path);
  return r.action + " " + r.repository + " " + r.reference;
}
}  // namespace

TEST_CASE("registry actions from method and path shape", "[http_facts]") {
  CHECK(reg("GET", "/v2/") == "ping  ");
  CHECK(reg("HEAD", "/v2") == "ping  ");
  CHECK(reg("GET", "/v2/_catalog") == "catalog  ");
  CHECK(reg("GET", "/v2/app/manifests/1.2") == "pull app 1.2");
  CHECK(reg("HEAD", "/v2/team/tools/blobs/sha256:ab") == "pull team/tools sha256:ab");
  CHECK(reg("GET", "/v2/app/tags/list") == "pull app ");
  CHECK(reg("POST", "/v2/app/blobs/uploads/") == "push app ");
  CHECK(reg("PATCH", "/v2/a/b/c/blobs/uploads/5f1c") == "push a/b/c ");
  CHECK(reg("PUT", "/v2/app/blobs/uploads/5f1c") == "push app ");
  CHECK(reg("PUT", "/v2/app/manifests/1.2") == "push app 1.2");
  CHECK(reg("DELETE", "/v2/app/manifests/sha256:ab") == "delete app sha256:ab");
  CHECK(reg("DELETE", "/v2/app/blobs/uploads/5f1c") == "delete app ");
  // A repository may be named like a path word: the shape is read from the end.
  CHECK(reg("GET", "/v2/blobs/manifests/x") == "pull blobs x");
  CHECK(reg("GET", "/v2/manifests/manifests/x") == "pull manifests x");
  // Not registry calls.
  CHECK(reg("PUT", "/v2/app/blobs/sha256:ab") == " app sha256:ab");  // blobs are written through uploads only
  CHECK(reg("POST", "/v2/_catalog") == "  ");
  CHECK(reg("GET", "/v2/manifests/x") == "  ");  // no repository
  CHECK(reg("GET", "/debug/vars") == "  ");
  CHECK(reg("GET", "/v22/app/manifests/1") == "  ");
}

TEST_CASE("paths the bastion refuses before the policy", "[http_facts]") {
  CHECK(http_path_problem("/v2/app/manifests/1") == "");
  CHECK(http_path_problem("/v2/app/../_catalog") == "the path holds a dot segment");
  CHECK(http_path_problem("/v2/./x") == "the path holds a dot segment");
  CHECK(http_path_problem("/v2/app/..") == "the path holds a dot segment");
  CHECK(http_path_problem("/v2//app") == "the path holds an empty segment");
  CHECK(http_path_problem("/v2/app%2F..%2Fx") == "the path holds an encoded %2f");
  CHECK(http_path_problem("/v2/%2e%2e/x") == "the path holds an encoded %2e");
  CHECK(http_path_problem("/v2/a%252e") == "the path holds an encoded %25");
  CHECK(http_path_problem("/v2/a\\b") == "the path holds a backslash");
  CHECK(http_path_problem("/v2/secret/%61pp/manifests/1") ==
        "the path holds an encoded unreserved character (%61): send it unencoded");
  CHECK(http_path_problem("/%7Eadmin") == "the path holds an encoded unreserved character (%7E): send it unencoded");
  CHECK(http_path_problem("/v2/a%zz") == "the path holds a '%' that is not a percent-encoding");
  CHECK(http_path_problem("/v2/a%4") == "the path holds a '%' that is not a percent-encoding");
  CHECK(http_path_problem("/files/a%20b") == "");  // a reserved or unsafe byte stays encoded
  CHECK(http_path_problem("/v2/") == "");  // a trailing slash is not an empty segment
}

TEST_CASE("credentials never reach the policy's headers", "[http_facts]") {
  CHECK(http_header_is_credential("authorization"));
  CHECK(http_header_is_credential("proxy-authorization"));
  CHECK(http_header_is_credential("cookie"));
  CHECK_FALSE(http_header_is_credential("accept"));
}

TEST_CASE("refusal bodies and summaries", "[http_facts]") {
  CHECK(http_refusal_body(true, "DENIED", "bastion: denied: \"x\"") ==
        "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"bastion: denied: \\\"x\\\"\"}]}\n");
  CHECK(http_refusal_body(false, "denied", "no") == "{\"error\":\"denied\",\"message\":\"no\"}\n");
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1229) == "1.2 KiB");
  CHECK(human_bytes(3u << 20) == "3.0 MiB");
}

TEST_CASE("registry challenges and the token cache", "[http_facts]") {
  const auto c = parse_bearer_challenge(
      "Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:app:pull,push\"");
  REQUIRE(c);
  CHECK(c->at("realm") == "https://auth.example/token");
  CHECK(c->at("service") == "registry.example");
  CHECK(c->at("scope") == "repository:app:pull,push");
  CHECK_FALSE(parse_bearer_challenge("Basic realm=\"x\""));
  HttpTokenCache cache;
  CHECK_FALSE(cache.token_for_repository("app"));
  cache.put("app", "repository:app:pull,push", "tok-1", std::chrono::seconds(300));
  CHECK(cache.token_for_repository("app") == "tok-1");
  CHECK_FALSE(cache.token_for_repository("other"));
  cache.put("other", "repository:other:pull", "tok-2", std::chrono::seconds(0));  // expired at once
  CHECK_FALSE(cache.token_for_repository("other"));
}

TEST_CASE("a cross-repository mount names its source as the registry reads it", "[http_facts]") {
  auto mount = [](const std::string& query, const std::string& content_type = "") {
    HttpFacts f;
    f.method = "POST";
    f.path = "/v2/app/blobs/uploads/";
    f.query = query;
    if (!content_type.empty()) f.headers["content-type"] = content_type;
    f.registry = registry_facts(f.method, f.path);
    registry_mount_facts(f);
    return f.registry->action + " " + f.registry->repository + " from=" + f.registry->from;
  };
  CHECK(mount("") == "push app from=");
  CHECK(mount("mount=sha256:aa&from=secret/x") == "push app from=secret/x");
  CHECK(mount("mount=sha256:aa&from=secret%2Fx") == "push app from=secret/x");
  CHECK(mount("mount=sha256:aa&fr%6Fm=secret/x") == "push app from=secret/x");
  // What the policy could read otherwise than the registry: refused (action "").
  CHECK(mount("from=a&from=secret/x") == " app from=a");
  CHECK(mount("from=secret%zz") == " app from=");
  CHECK(mount("mount=sha256:aa;from=secret/x") == " app from=");
  CHECK(mount("from=a+b") == " app from=");
  CHECK(mount("", "application/x-www-form-urlencoded") == " app from=");
  CHECK(mount("", "Multipart/Form-Data; boundary=x") == " app from=");
  CHECK(mount("", "application/octet-stream") == "push app from=");
}

TEST_CASE("the request text names the query the approver decides", "[http_facts]") {
  HttpFacts f;
  f.method = "POST";
  f.path = "/v2/app/blobs/uploads/";
  CHECK(http_request_text(f) == "POST /v2/app/blobs/uploads/");
  f.query = "mount=sha256:aa&from=other/x";
  CHECK(http_request_text(f) == "POST /v2/app/blobs/uploads/?mount=sha256:aa&from=other/x");
}

TEST_CASE("queries the bastion refuses before the policy", "[http_facts]") {
  CHECK(http_query_problem("") == "");
  CHECK(http_query_problem("force=true&n=1") == "");
  CHECK(http_query_problem("from=secret%2Fx&q=a%20b&e=%3D") == "");  // reserved bytes are data
  CHECK(http_query_problem("f%6frce=true") == "the query holds an encoded unreserved character (%6f): send it unencoded");
  CHECK(http_query_problem("force=%74rue") == "the query holds an encoded unreserved character (%74): send it unencoded");
  CHECK(http_query_problem("a=%2E%2E") == "the query holds an encoded unreserved character (%2E): send it unencoded");
  CHECK(http_query_problem("a=%zz") == "the query holds a '%' that is not a percent-encoding");
  CHECK(http_query_problem("a=%4") == "the query holds a '%' that is not a percent-encoding");
}

TEST_CASE("headers dropped on the way through", "[http_facts]") {
  for (const char* n : {"Authorization", "cookie", "Host", "Transfer-Encoding", "Forwarded", "X-Forwarded-For",
                        "X-Forwarded-User", "x-forwarded-user", "X-Real-IP", "X-Remote-User", "X-Remote-Group",
                        "X-Remote-Extra-Scopes", "Remote-User", "X-WEBAUTH-USER", "X-Auth-Request-User",
                        "X-Auth-Request-Email", "X-Auth-Request-Access-Token", "Accept-Encoding"})
    CHECK(http_request_header_dropped(n));
  for (const char* n : {"Accept", "Content-Type", "X-Request-Id", "User-Agent", "X-Forwarded-", "X-Auth-Request-"})
    CHECK_FALSE(http_request_header_dropped(n));
  CHECK(http_response_header_dropped("WWW-Authenticate"));
  CHECK(http_response_header_dropped("set-cookie"));
  CHECK_FALSE(http_response_header_dropped("Location"));
}

TEST_CASE("every response body but known binary types is masked", "[http_facts]") {
  for (const char* t : {"", "text/plain", "application/json", "application/yaml", "application/x-yaml",
                        "application/javascript", "message/http", "application/x-www-form-urlencoded",
                        "application/vnd.oci.image.manifest.v1+json", "application/octet-streamx", "nonsense"})
    CHECK(http_body_masked(t));
  for (const char* t : {"application/octet-stream", "Application/Octet-Stream; charset=x", " image/png",
                        "video/mp4", "audio/ogg", "font/woff2", "application/zip", "application/gzip",
                        "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd",
                        "application/vnd.docker.image.rootfs.diff.tar.gzip"})
    CHECK_FALSE(http_body_masked(t));
}
