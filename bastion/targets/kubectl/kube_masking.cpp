#include "targets/kubectl/kube_masking.h"

namespace bastion {
namespace {

constexpr int kMaxDepth = 64;  // nlohmann's parser bounds nothing itself; our walk does

std::size_t mask_values(nlohmann::json& obj) {
  std::size_t n = 0;
  for (const auto* key : {"data", "stringData"}) {
    const auto it = obj.find(key);
    if (it == obj.end()) continue;
    if (it->is_object()) {
      for (auto& [k, v] : it->items()) {
        v = std::string(key[0] == 'd' ? kKubeMaskedData : kKubeMaskedString);
        ++n;
      }
    } else if (!it->is_null()) {
      *it = nlohmann::json::object();  // not a map: nothing of it is shown
      ++n;
    }
  }
  return n;
}

// `kubectl apply` keeps the whole applied object, values included, in an
// annotation: its Secret data is masked too (the annotation is replaced
// whole when it is not the JSON object kubectl writes).
constexpr const char* kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

std::size_t mask_last_applied(nlohmann::json& obj, int depth) {
  const auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return 0;
  const auto an = md->find("annotations");
  if (an == md->end() || !an->is_object()) return 0;
  const auto la = an->find(kLastApplied);
  if (la == an->end()) return 0;
  std::string masked = kKubeMaskedString;
  if (la->is_string() && depth < 4) {
    nlohmann::json inner = nlohmann::json::parse(la->get_ref<const std::string&>(), nullptr, false);
    if (!inner.is_discarded() && inner.is_object()) {
      mask_values(inner);
      mask_last_applied(inner, depth + 1);
      masked = inner.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  *la = masked;
  return 1;
}

bool kind_is(const nlohmann::json& j, const char* kind) {
  const auto it = j.find("kind");
  return it != j.end() && it->is_string() && it->get_ref<const std::string&>() == kind;
}

std::size_t walk(nlohmann::json& j, bool secret_resource, bool top, int depth) {
  if (depth > kMaxDepth) return 0;
  std::size_t n = 0;
  if (j.is_array()) {
    for (auto& e : j) n += walk(e, secret_resource, false, depth + 1);
    return n;
  }
  if (!j.is_object()) return 0;
  const bool secret = kind_is(j, "Secret") || (top && secret_resource && !j.contains("kind"));
  if (secret) n += mask_values(j);
  // A Secret's annotation, also in the metadata-only objects of a Table.
  if (secret || (top && secret_resource)) n += mask_last_applied(j, 0);
  if (kind_is(j, "SecretList") || (top && secret_resource)) {
    const auto items = j.find("items");
    if (items != j.end() && items->is_array())
      for (auto& item : *items)
        if (item.is_object() && (!item.contains("kind") || kind_is(item, "Secret")))
          n += mask_values(item) + mask_last_applied(item, 0);
  }
  for (auto& [k, v] : j.items()) {
    if (secret && (k == "data" || k == "stringData")) continue;
    // A watch event's object and a Table row's object stand at the top for
    // the "no kind" rule: the request was for secrets.
    const bool inner_top = (k == "object" && secret_resource);
    n += walk(v, secret_resource, inner_top, depth + 1);
  }
  return n;
}

}  // namespace

std::size_t mask_kube_secrets(nlohmann::json& j, bool secret_resource) { return walk(j, secret_resource, true, 0); }

bool mask_kube_body(std::string& body, bool secret_resource) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return false;
  if (mask_kube_secrets(j, secret_resource) == 0) return true;  // unchanged: keep the server's bytes
  body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return true;
}

}  // namespace bastion
