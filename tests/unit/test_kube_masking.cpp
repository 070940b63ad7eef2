// Secret values masked in Kubernetes API responses (JSON), in every shape
// the API returns them: object, list, table, watch event.
#include <catch2/catch.hpp>

#include "targets/kubectl/kube_masking.h"

using namespace bastion;
using nlohmann::json;

namespace {
std::string masked(const std::string& body, bool secret_resource) {
  std::string b = body;
  REQUIRE(mask_kube_body(b, secret_resource));
  return json::parse(b).dump();
}
}  // namespace

TEST_CASE("a Secret's data and stringData", "[kube_masking]") {
  CHECK(masked(R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"data":{"a":"aHVudGVy","b":""},
                   "stringData":{"c":"plain"},"type":"Opaque"})", false) ==
        R"({"apiVersion":"v1","data":{"a":"KioqKg==","b":"KioqKg=="},"kind":"Secret","metadata":{"name":"s"},)"
        R"("stringData":{"c":"****"},"type":"Opaque"})");
  // The metadata is left alone, even a key named data elsewhere.
  CHECK(masked(R"({"kind":"ConfigMap","data":{"a":"x"}})", false) == R"({"data":{"a":"x"},"kind":"ConfigMap"})");
}

TEST_CASE("a SecretList's items carry no kind", "[kube_masking]") {
  CHECK(masked(R"({"kind":"SecretList","items":[{"metadata":{"name":"a"},"data":{"p":"eA=="}},
                                                 {"metadata":{"name":"b"},"data":{"q":"eQ=="}}]})", false) ==
        R"({"items":[{"data":{"p":"KioqKg=="},"metadata":{"name":"a"}},{"data":{"q":"KioqKg=="},"metadata":{"name":"b"}}],"kind":"SecretList"})");
}

TEST_CASE("a watch event's object", "[kube_masking]") {
  CHECK(masked(R"({"type":"ADDED","object":{"kind":"Secret","data":{"p":"eA=="}}})", true) ==
        R"({"object":{"data":{"p":"KioqKg=="},"kind":"Secret"},"type":"ADDED"})");
}

TEST_CASE("a Table's rows with objects", "[kube_masking]") {
  CHECK(masked(R"({"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":[{"name":"Name"}],
                   "rows":[{"cells":["db","Opaque",1],"object":{"kind":"Secret","apiVersion":"v1",
                   "metadata":{"name":"db"},"data":{"password":"aHVudGVy"}}}]})", true) ==
        R"({"apiVersion":"meta.k8s.io/v1","columnDefinitions":[{"name":"Name"}],"kind":"Table",)"
        R"("rows":[{"cells":["db","Opaque",1],"object":{"apiVersion":"v1","data":{"password":"KioqKg=="},"kind":"Secret","metadata":{"name":"db"}}}]})");
}

TEST_CASE("a secrets request: objects without kind are masked too", "[kube_masking]") {
  CHECK(masked(R"({"metadata":{"name":"s"},"data":{"p":"eA=="}})", true) ==
        R"({"data":{"p":"KioqKg=="},"metadata":{"name":"s"}})");
  CHECK(masked(R"({"metadata":{"name":"s"},"data":{"p":"eA=="}})", false) ==
        R"({"data":{"p":"eA=="},"metadata":{"name":"s"}})");
  // data that is not a map is dropped, not shown.
  CHECK(masked(R"({"kind":"Secret","data":"aHVudGVy"})", false) == R"({"data":{},"kind":"Secret"})");
}

TEST_CASE("a Secret nested in a List (kubectl get all, -o json of several kinds)", "[kube_masking]") {
  CHECK(masked(R"({"kind":"List","items":[{"kind":"Pod","metadata":{}},{"kind":"Secret","data":{"p":"eA=="}}]})",
               false) == R"({"items":[{"kind":"Pod","metadata":{}},{"data":{"p":"KioqKg=="},"kind":"Secret"}],"kind":"List"})");
}

TEST_CASE("not JSON fails closed; unchanged bodies keep their bytes", "[kube_masking]") {
  std::string b = "k8s\x00protobuf";
  CHECK_FALSE(mask_kube_body(b, true));
  b = "password: aHVudGVy\n";
  CHECK_FALSE(mask_kube_body(b, true));
  b = "{\"kind\": \"Pod\",  \"x\": 1}";
  REQUIRE(mask_kube_body(b, false));
  CHECK(b == "{\"kind\": \"Pod\",  \"x\": 1}");
}

TEST_CASE("kubectl apply's last-applied annotation of a Secret is masked too", "[kube_masking]") {
  const std::string applied =
      R"({\"apiVersion\":\"v1\",\"data\":{\"password\":\"aHVudGVy\"},\"kind\":\"Secret\",\"stringData\":{\"k\":\"hunter\"}})";
  const std::string in = R"({"kind":"Secret","metadata":{"name":"s","annotations":{"a":"b",)"
                         R"("kubectl.kubernetes.io/last-applied-configuration":")" + applied + R"("}},"data":{"password":"aHVudGVy"}})";
  const std::string out = masked(in, false);
  CHECK(out.find("aHVudGVy") == std::string::npos);
  CHECK(out.find("hunter") == std::string::npos);
  CHECK(out.find(R"(\"password\":\"KioqKg==\")") != std::string::npos);
  CHECK(out.find(R"("a":"b")") != std::string::npos);
  // Not the JSON kubectl writes: replaced whole.
  CHECK(masked(R"({"kind":"Secret","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"password=aHVudGVy"}}})",
               false) == R"({"kind":"Secret","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"****"}}})");
  // The metadata-only objects of a Table of secrets.
  const std::string table = R"({"kind":"Table","rows":[{"object":{"kind":"PartialObjectMetadata","metadata":{"annotations":{)"
                            R"("kubectl.kubernetes.io/last-applied-configuration":")" + applied + R"("}}}}]})";
  CHECK(masked(table, true).find("aHVudGVy") == std::string::npos);
  // Other kinds keep theirs.
  CHECK(masked(R"({"kind":"ConfigMap","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"x"}}})",
               false).find(R"("x")") != std::string::npos);
}
