// Fuzzes what the Kubernetes API proxy reads from kubectl and the API
// server: the HTTP/1.1 head parser, request -> facts, and Secret masking.
// The first byte picks the part.
#include <cstdint>
#include <set>
#include <string>

#include "targets/kubectl/kube_http.h"
#include "targets/kubectl/kube_masking.h"
#include "targets/kubectl/kube_request.h"

namespace {

// Every Secret's data value is the placeholder after masking.
void check_masked(const nlohmann::json& j, int depth) {
  if (depth > 60) return;
  if (j.is_array())
    for (const auto& e : j) check_masked(e, depth + 1);
  if (!j.is_object()) return;
  const auto k = j.find("kind");
  if (k != j.end() && k->is_string() && *k == "Secret") {
    const auto d = j.find("data");
    if (d != j.end() && d->is_object())
      for (const auto& [_, v] : d->items())
        if (v != bastion::kKubeMaskedData) __builtin_trap();
  }
  for (const auto& [_, v] : j.items()) check_masked(v, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    bastion::HttpHead h;
    std::string error;
    if (!bastion::parse_http_request(in, h, error)) return 0;
    if (h.serialize().size() > bastion::kMaxHttpHead + 1024) __builtin_trap();
    const auto info = bastion::kube_request_info(h.a, h.b);
    if (!info.error.empty() || !info.resource) return 0;
    static const std::set<std::string> verbs = {"get", "list", "watch", "create", "update", "patch", "delete",
                                                "deletecollection", "exec", "attach", "portforward", "proxy"};
    const auto& f = info.facts;
    if (!verbs.count(f.verb) || f.resource.empty()) __builtin_trap();
    // A decoded segment never holds a '/': the path means one thing.
    for (const auto* s : {&f.namespace_name, &f.name, &f.resource, &f.subresource})
      if (s->find('/') != std::string::npos) __builtin_trap();
    return 0;
  }
  std::string body = in;
  if (!bastion::mask_kube_body(body, data[0] % 4 == 1)) return 0;
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) __builtin_trap();  // what we pass on is JSON
  check_masked(j, 0);
  return 0;
}
