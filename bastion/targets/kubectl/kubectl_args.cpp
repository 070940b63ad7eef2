#include "targets/kubectl/kubectl_args.h"

#include <optional>

#include <algorithm>
#include <cctype>
#include <set>

#include "targets/kubectl/kubectl_flags.h"

namespace bastion {
namespace {

// Flags the bastion refuses, by kubectl's (normalised) name: they would
// replace the held credential or target, start a program, or read or write
// files on the bastion host.
const std::map<std::string, std::string> kRefusedFlags = {
    {"kubeconfig", "the bastion holds the credential and the target"},
    {"context", "the bastion holds the credential and the target"},
    {"cluster", "the bastion holds the credential and the target"},
    {"user", "the bastion holds the credential and the target"},
    {"token", "the bastion holds the credential and the target"},
    {"server", "the bastion holds the credential and the target"},
    {"as", "the bastion holds the credential and the target"},
    {"as-group", "the bastion holds the credential and the target"},
    {"as-uid", "the bastion holds the credential and the target"},
    {"certificate-authority", "the bastion holds the credential and the target"},
    {"client-certificate", "the bastion holds the credential and the target"},
    {"client-key", "the bastion holds the credential and the target"},
    {"insecure-skip-tls-verify", "the bastion holds the credential and the target"},
    {"tls-server-name", "the bastion holds the credential and the target"},
    {"username", "the bastion holds the credential and the target"},
    {"password", "the bastion holds the credential and the target"},
    {"cache-dir", "it names files on the bastion host"},
    {"profile", "it writes files on the bastion host"},
    {"profile-output", "it names files on the bastion host"},
    {"kustomize", "it reads files on the bastion host"},
    {"from-file", "it reads files on the bastion host"},
    {"from-env-file", "it reads files on the bastion host"},
    {"cert", "it reads files on the bastion host"},
    {"key", "it reads files on the bastion host"},
    {"custom", "it reads files on the bastion host"},
    {"patch-file", "it reads files on the bastion host"},
    {"output-directory", "it writes files on the bastion host"},
    {"edit", "it starts an editor on the bastion host"},
};

// Refused commands (by their first word, or their whole path) and why.
const std::map<std::string, std::string> kRefusedVerbs = {
    {"config", "kubectl config would show or change the held credential"},
    {"proxy", "kubectl proxy would tunnel around the recording"},
    {"port-forward", "kubectl port-forward would tunnel around the recording"},
    {"cp", "kubectl cp reads and writes files on the bastion host"},
    {"edit", "kubectl edit launches an editor on the bastion host"},
    {"apply edit-last-applied", "kubectl apply edit-last-applied launches an editor on the bastion host"},
    {"plugin", "kubectl plugins run programs on the bastion host"},
    {"kustomize", "kubectl kustomize reads files on the bastion host"},
    {"diff", "kubectl diff runs a diff program on the bastion host"},
    {"alpha", "alpha commands are not available through the bastion"},
};

// Verbs whose first positional is a pod (or TYPE/NAME) rather than a type.
const std::set<std::string> kPodVerbs = {"logs", "exec", "attach", "port-forward", "debug"};
// Verbs whose positionals are TYPE [NAME...] or TYPE/NAME...
const std::set<std::string> kTypeVerbs = {
    "get", "describe", "delete", "scale", "label", "annotate", "patch", "rollout", "set", "autoscale",
    "expose", "wait", "explain", "cordon", "uncordon", "drain", "taint", "top", "edit", "events"};

const std::map<std::string, std::string> kAliases = {
    {"po", "pods"}, {"pod", "pods"}, {"deploy", "deployments"}, {"deployment", "deployments"},
    {"svc", "services"}, {"service", "services"}, {"ns", "namespaces"}, {"namespace", "namespaces"},
    {"cm", "configmaps"}, {"configmap", "configmaps"}, {"secret", "secrets"}, {"no", "nodes"},
    {"node", "nodes"}, {"rs", "replicasets"}, {"replicaset", "replicasets"}, {"sts", "statefulsets"},
    {"statefulset", "statefulsets"}, {"ds", "daemonsets"}, {"daemonset", "daemonsets"}, {"job", "jobs"},
    {"cj", "cronjobs"}, {"cronjob", "cronjobs"}, {"ing", "ingresses"}, {"ingress", "ingresses"},
    {"pv", "persistentvolumes"}, {"persistentvolume", "persistentvolumes"},
    {"pvc", "persistentvolumeclaims"}, {"persistentvolumeclaim", "persistentvolumeclaims"},
    {"sa", "serviceaccounts"}, {"serviceaccount", "serviceaccounts"}, {"ep", "endpoints"},
    {"ev", "events"}, {"event", "events"}, {"hpa", "horizontalpodautoscalers"},
    {"horizontalpodautoscaler", "horizontalpodautoscalers"}, {"netpol", "networkpolicies"},
    {"networkpolicy", "networkpolicies"}, {"pdb", "poddisruptionbudgets"},
    {"poddisruptionbudget", "poddisruptionbudgets"}, {"crd", "customresourcedefinitions"},
    {"crds", "customresourcedefinitions"}, {"customresourcedefinition", "customresourcedefinitions"},
    {"role", "roles"}, {"rolebinding", "rolebindings"}, {"clusterrole", "clusterroles"},
    {"clusterrolebinding", "clusterrolebindings"}, {"limits", "limitranges"}, {"limitrange", "limitranges"},
    {"quota", "resourcequotas"}, {"resourcequota", "resourcequotas"}, {"sc", "storageclasses"},
    {"storageclass", "storageclasses"}, {"csr", "certificatesigningrequests"}, {"pc", "priorityclasses"},
};

}  // namespace

std::string normalize_resource(std::string r) {
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
  if (const auto dot = r.find('.'); dot != std::string::npos) {
    // "deployments.apps", "deployment.v1.apps": the group does not change what it is.
    const std::string base = r.substr(0, dot);
    const auto it = kAliases.find(base);
    return it != kAliases.end() ? it->second : base;
  }
  const auto it = kAliases.find(r);
  return it != kAliases.end() ? it->second : r;
}

namespace {

// cobra's stripFlags/argsMinusFirstX decide whether a flag word takes the
// next word by looking the flag up in the command reached so far (a parent
// does not know its children's flags): unknown flags take it. Flags unknown
// to the command finally found are refused afterwards.
bool takes_next_word(const KubectlCommandSpec& c, const std::string& s) {
  if (s.starts_with("--") && s.find('=') == std::string::npos) {
    const KubectlFlagRow* f = c.find_long(normalize_kubectl_flag(s.substr(2)));
    if (!f) return true;
    return f->arity == KubectlArity::value;
  }
  if (s.size() == 2 && s[0] == '-' && s[1] != '=') {
    const KubectlFlagRow* f = c.find_short(s[1]);
    if (!f) return true;
    return f->arity == KubectlArity::value;
  }
  return false;
}

// Visits the words in command positions as cobra sees them: up to "--",
// skipping flags and the word a flag takes. `visit(i)` returns true to stop.
template <typename Visit>
void for_each_command_word(const std::vector<std::string>& args, const KubectlCommandSpec& c, Visit&& visit) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--") return;
    if (s.starts_with("-")) {
      if (takes_next_word(c, s)) ++i;
      continue;
    }
    if (visit(i)) return;
  }
}

// The words cobra takes for command names (stripFlags).
std::vector<std::string> strip_flags(const std::vector<std::string>& args, const KubectlCommandSpec& c) {
  std::vector<std::string> commands;
  for_each_command_word(args, c, [&](std::size_t i) {
    if (!args[i].empty()) commands.push_back(args[i]);
    return false;
  });
  return commands;
}

// args without the first word that is `x` in a command position (argsMinusFirstX).
std::vector<std::string> minus_first(std::vector<std::string> args, const KubectlCommandSpec& c, const std::string& x) {
  std::optional<std::size_t> at;
  for_each_command_word(args, c, [&](std::size_t i) { return args[i] == x ? (at = i, true) : false; });
  if (at) args.erase(args.begin() + static_cast<std::ptrdiff_t>(*at));
  return args;
}

}  // namespace

KubectlInvocation parse_kubectl(const std::vector<std::string>& argv, const std::string& default_namespace) {
  KubectlInvocation k;
  k.argv = argv;
  const KubectlFlagTable& table = KubectlFlagTable::installed();
  std::string flag_refusal;  // reported after a refused verb, which says more
  auto refuse = [&flag_refusal](const std::string& why) {
    if (flag_refusal.empty()) flag_refusal = why;
  };

  // 1. The command, found as cobra finds it.
  const KubectlCommandSpec* cmd = &table.root();
  std::vector<std::string> args = argv;
  std::vector<std::string> rest_words;
  for (;;) {
    const std::vector<std::string> words = strip_flags(args, *cmd);
    if (words.empty()) break;
    const long child = table.find_child(*cmd, words[0]);
    if (child < 0) {
      rest_words = words;
      break;
    }
    args = minus_first(args, *cmd, words[0]);
    cmd = &table.at(static_cast<std::size_t>(child));
  }
  k.verb = cmd->path;

  // 2. Its flags, read as pflag reads them; every occurrence is checked.
  std::vector<std::string> pos;
  auto set_flag = [&](const KubectlFlagRow& f, const std::string& value) {
    const std::string name = f.name;
    if (const auto r = kRefusedFlags.find(name); r != kRefusedFlags.end())
      refuse("--" + name + " is not available through the bastion (" + r->second + ")");
    if (name == "filename" && value != "-")
      refuse("-f " + value + ": files on the bastion host are not available; pass the manifest on stdin (-f -)");
    if (name == "filename") k.stdin_manifest = true;
    if (name == "output" && value.find("-file") != std::string::npos)  // go-template-file=, jsonpath-file=, ...
      refuse("-o " + value + " reads a file on the bastion host");
    k.flag_list.emplace_back(name, value);
    k.flags[name] = value;
  };
  auto no_opt_value = [](const KubectlFlagRow& f) { return f.arity == KubectlArity::boolean ? "true" : ""; };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s.size() < 2 || s[0] != '-') {
      pos.push_back(s);
      continue;
    }
    if (s == "--") {
      k.exec_command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (s[1] == '-') {
      const std::string body = s.substr(2);
      if (body.empty() || body[0] == '-' || body[0] == '=') {
        refuse("bad flag syntax: " + s);
        continue;
      }
      const auto eq = body.find('=');
      const std::string name = normalize_kubectl_flag(body.substr(0, eq));
      const KubectlFlagRow* f = cmd->find_long(name);
      if (!f) {
        refuse("unknown flag --" + body.substr(0, eq) + (k.verb.empty() ? "" : " for \"" + k.verb + "\""));
        continue;
      }
      if (eq != std::string::npos) set_flag(*f, body.substr(eq + 1));
      else if (f->arity != KubectlArity::value) set_flag(*f, no_opt_value(*f));
      else if (i + 1 < args.size()) set_flag(*f, args[++i]);
      else refuse("--" + name + " needs a value");
      continue;
    }
    // -n web, -nweb, -n=web, -it, -A; a value-taking letter takes the rest.
    if (s.starts_with("-test.")) {  // pflag skips these silently
      refuse("bad flag syntax: " + s);
      continue;
    }
    std::string shorts = s.substr(1);
    while (!shorts.empty()) {
      const char c = shorts[0];
      const KubectlFlagRow* f = cmd->find_short(c);
      if (!f) {
        refuse("unknown flag -" + std::string(1, c) + " in " + s + (k.verb.empty() ? "" : " for \"" + k.verb + "\""));
        break;
      }
      if (shorts.size() > 2 && shorts[1] == '=') {
        set_flag(*f, shorts.substr(2));
        break;
      }
      if (f->arity != KubectlArity::value) {
        set_flag(*f, no_opt_value(*f));
        shorts.erase(0, 1);
        continue;
      }
      if (shorts.size() > 1) set_flag(*f, shorts.substr(1));
      else if (i + 1 < args.size()) set_flag(*f, args[++i]);
      else refuse("-" + std::string(1, c) + " needs a value");
      break;
    }
  }

  // The command: refused ones, unknown ones (plugins), then flag refusals.
  const std::string base = k.verb.substr(0, k.verb.find(' '));
  if (k.verb.empty()) {
    k.refusal = rest_words.empty() ? "no kubectl command given"
                                   : "\"" + rest_words[0] + "\" is not a kubectl command the bastion knows "
                                     "(plugins are not available)";
  } else if (const auto r = kRefusedVerbs.find(k.verb); r != kRefusedVerbs.end()) {
    k.refusal = r->second;
  } else if (const auto rb = kRefusedVerbs.find(base); rb != kRefusedVerbs.end()) {
    k.refusal = rb->second;
  }
  if (k.refusal.empty()) k.refusal = flag_refusal;
  std::size_t p = 0;

  // Resources and names.
  auto add_type_name = [&](const std::string& w) {
    const auto slash = w.find('/');
    if (slash != std::string::npos) {
      const std::string r = normalize_resource(w.substr(0, slash));
      if (std::find(k.resources.begin(), k.resources.end(), r) == k.resources.end()) k.resources.push_back(r);
      k.names.push_back(w.substr(slash + 1));
      return true;
    }
    return false;
  };
  if (kPodVerbs.count(base)) {
    if (p < pos.size()) {
      if (!add_type_name(pos[p])) {
        k.resources.push_back("pods");
        k.names.push_back(pos[p]);
      }
      ++p;
    }
  } else if (kTypeVerbs.count(base) || k.verb.starts_with("rollout ") || k.verb.starts_with("set ") ||
             k.verb.starts_with("top ")) {
    if (k.verb.starts_with("top ")) k.resources.push_back(normalize_resource(k.verb.substr(4)));
    bool typed = !k.resources.empty();
    for (; p < pos.size(); ++p) {
      if (add_type_name(pos[p])) {
        typed = true;
        continue;
      }
      if (!typed) {
        std::size_t start = 0;  // "po,svc"
        while (true) {
          const auto comma = pos[p].find(',', start);
          k.resources.push_back(normalize_resource(pos[p].substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        typed = true;
        continue;
      }
      k.names.push_back(pos[p]);
    }
  } else if (k.verb.starts_with("create ")) {
    k.resources.push_back(normalize_resource(k.verb.substr(7, k.verb.find(' ', 7) - 7)));
    for (; p < pos.size(); ++p) k.names.push_back(pos[p]);
  } else {
    for (; p < pos.size(); ++p) k.names.push_back(pos[p]);
  }

  // Namespace.
  if (const auto n = k.flags.find("namespace"); n != k.flags.end()) {
    k.namespace_name = n->second;
    k.namespace_given = true;
  }
  if (k.flags.count("all-namespaces") && k.flags["all-namespaces"] != "false") {
    k.all_namespaces = true;
    k.namespace_name = "*";
  }
  if (!k.namespace_given && !k.all_namespaces) k.namespace_name = default_namespace;

  k.interactive = k.flags.count("stdin") || k.flags.count("tty");
  return k;
}

}  // namespace bastion
