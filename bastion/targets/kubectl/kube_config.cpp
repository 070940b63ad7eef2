#include "targets/kubectl/kube_config.h"

#include <yaml.h>

#include <map>
#include <memory>
#include <vector>

#include "common/base64.h"

namespace bastion {
namespace {

// A YAML node reduced to what a kubeconfig holds: scalars, maps, lists.
struct Node {
  std::string scalar;
  std::map<std::string, Node> map;
  std::vector<Node> list;
  bool is_map = false, is_list = false;
  const Node* get(const std::string& k) const {
    const auto it = map.find(k);
    return it == map.end() ? nullptr : &it->second;
  }
  std::string str(const std::string& k) const {
    const Node* n = get(k);
    return n ? n->scalar : "";
  }
};

struct DocDeleter {
  void operator()(yaml_document_t* d) const {
    yaml_document_delete(d);
    delete d;
  }
};

bool convert(yaml_document_t* doc, yaml_node_t* n, Node& out, int depth) {
  if (!n || depth > 32) return false;
  switch (n->type) {
    case YAML_SCALAR_NODE:
      out.scalar.assign(reinterpret_cast<const char*>(n->data.scalar.value), n->data.scalar.length);
      return true;
    case YAML_SEQUENCE_NODE:
      out.is_list = true;
      for (yaml_node_item_t* i = n->data.sequence.items.start; i < n->data.sequence.items.top; ++i) {
        out.list.emplace_back();
        if (!convert(doc, yaml_document_get_node(doc, *i), out.list.back(), depth + 1)) return false;
      }
      return true;
    case YAML_MAPPING_NODE:
      out.is_map = true;
      for (yaml_node_pair_t* p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        yaml_node_t* k = yaml_document_get_node(doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE) return false;
        const std::string key(reinterpret_cast<const char*>(k->data.scalar.value), k->data.scalar.length);
        if (out.map.count(key)) return false;  // a duplicate key: which one would kubectl take?
        if (!convert(doc, yaml_document_get_node(doc, p->value), out.map[key], depth + 1)) return false;
      }
      return true;
    default:
      return false;
  }
}

bool b64decode(const std::string& in, std::string& out) {
  std::string clean;
  for (char c : in)
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  return base64_decode(clean, out);
}

const Node* named(const Node* list, const std::string& name, const char* inner) {
  if (!list || !list->is_list) return nullptr;
  for (const auto& e : list->list)
    if (e.str("name") == name) return e.get(inner);
  return nullptr;
}

}  // namespace

bool parse_kubeconfig(const std::string& text, const std::string& context, KubeUpstream& out, std::string& error) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return error = "cannot start the YAML parser", false;
  std::unique_ptr<yaml_parser_t, void (*)(yaml_parser_t*)> pguard(&parser, yaml_parser_delete);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::unique_ptr<yaml_document_t, DocDeleter> doc(new yaml_document_t);
  if (!yaml_parser_load(&parser, doc.get())) {
    delete doc.release();  // not initialised: free the struct, not its contents
    return error = "the kubeconfig is not valid YAML", false;
  }
  Node root;
  if (!convert(doc.get(), yaml_document_get_root_node(doc.get()), root, 0) || !root.is_map)
    return error = "the kubeconfig is not a YAML map", false;
  out = KubeUpstream{};
  out.context = context.empty() ? root.str("current-context") : context;
  if (out.context.empty()) return error = "the kubeconfig has no current-context", false;
  const Node* ctx = named(root.get("contexts"), out.context, "context");
  if (!ctx) return error = "the kubeconfig has no context " + out.context, false;
  out.namespace_name = ctx->str("namespace");
  const Node* cluster = named(root.get("clusters"), ctx->str("cluster"), "cluster");
  const Node* user = named(root.get("users"), ctx->str("user"), "user");
  if (!cluster || !user) return error = "the kubeconfig's context " + out.context + " lacks its cluster or user", false;

  const std::string server = cluster->str("server");
  if (!server.starts_with("https://")) return error = "the kubeconfig's server must be https://", false;
  std::string hostport = server.substr(8);
  if (const auto slash = hostport.find('/'); slash != std::string::npos) {
    if (hostport.substr(slash) != "/") return error = "a server with a path prefix is not supported", false;
    hostport.resize(slash);
  }
  if (!hostport.empty() && hostport[0] == '[') {
    const auto close = hostport.find(']');
    if (close == std::string::npos) return error = "a malformed server address", false;
    out.host = hostport.substr(1, close - 1);
    out.port = close + 1 < hostport.size() && hostport[close + 1] == ':' ? hostport.substr(close + 2) : "443";
  } else {
    const auto colon = hostport.rfind(':');
    out.host = hostport.substr(0, colon);
    out.port = colon == std::string::npos ? "443" : hostport.substr(colon + 1);
  }
  if (out.host.empty() || out.port.empty()) return error = "a malformed server address", false;

  if (cluster->str("insecure-skip-tls-verify") == "true")
    return error = "insecure-skip-tls-verify is refused: the API server must be verified", false;
  if (cluster->get("certificate-authority"))
    return error = "use certificate-authority-data (inline) in the held kubeconfig", false;
  if (!b64decode(cluster->str("certificate-authority-data"), out.ca_pem) || out.ca_pem.empty())
    return error = "the kubeconfig needs certificate-authority-data to verify the API server", false;

  for (const char* k : {"exec", "auth-provider", "tokenFile", "client-certificate", "client-key", "username",
                        "password", "as", "impersonate"})
    if (user->get(k)) return error = std::string("user.") + k + " is not supported in the held kubeconfig", false;
  out.token = user->str("token");
  if (user->get("client-certificate-data") &&
      (!b64decode(user->str("client-certificate-data"), out.client_cert_pem) ||
       !b64decode(user->str("client-key-data"), out.client_key_pem) || out.client_key_pem.empty()))
    return error = "the kubeconfig's client-certificate-data/client-key-data are not valid base64", false;
  if (out.token.empty() && out.client_cert_pem.empty())
    return error = "the kubeconfig's user has neither token nor client-certificate-data", false;
  return true;
}

}  // namespace bastion
