#include "targets/kubectl/kubectl_args.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace bastion {
namespace {

// Flags that take a value (as the next word when not given with '=').
const std::set<std::string> kValueFlags = {
    "namespace", "selector", "output", "container", "field-selector", "replicas", "tail", "since",
    "since-time", "sort-by", "template", "filename", "kustomize", "from-file", "from-env-file",
    "from-literal", "image", "timeout", "grace-period", "type", "request-timeout", "field-manager",
    "patch", "chunk-size", "max-log-requests", "limit-bytes", "label-columns", "to-revision",
    "current-replicas", "resource-version", "port", "target-port", "name", "overrides", "env", "labels",
    "restart", "serviceaccount", "subresource", "raw", "for", "profile", "target", "copy-to",
    "kubeconfig", "context", "cluster", "user", "token", "server", "as", "as-group", "as-uid",
    "certificate-authority", "client-certificate", "client-key", "tls-server-name", "cache-dir",
    "username", "password", "log-file", "log_file", "profile-output", "log-dir", "log_dir",
    "min", "max", "cpu-percent", "docker-registry", "schedule", "pod-running-timeout"};

// Short flags: which take a value.
const std::map<char, std::string> kShortValue = {
    {'n', "namespace"}, {'l', "selector"}, {'o', "output"}, {'c', "container"}, {'f', "filename"},
    {'k', "kustomize"}, {'s', "server"}, {'p', "patch"}, {'L', "label-columns"}};
const std::map<char, std::string> kShortBool = {
    {'A', "all-namespaces"}, {'w', "watch"}, {'i', "stdin"}, {'t', "tty"}, {'q', "quiet"},
    {'R', "recursive"}, {'v', "v"}, {'h', "help"}};

// Flags the bastion refuses: they would replace the held credential or
// target, or read/write the bastion host's files.
const std::set<std::string> kRefusedFlags = {
    "kubeconfig", "context", "cluster", "user", "token", "server", "as", "as-group", "as-uid",
    "certificate-authority", "insecure-skip-tls-verify", "tls-server-name", "username", "password",
    "cache-dir", "log-file", "log_file", "log-dir", "log_dir", "profile-output", "kustomize",
    "from-file", "from-env-file"};

// Verbs that take sub-verbs, and those sub-verbs.
const std::map<std::string, std::set<std::string>> kSubVerbs = {
    {"rollout", {"restart", "status", "undo", "history", "pause", "resume"}},
    {"set", {"image", "env", "resources", "selector", "serviceaccount", "subject"}},
    {"create", {"secret", "configmap", "deployment", "namespace", "job", "cronjob", "service", "role",
                "rolebinding", "clusterrole", "clusterrolebinding", "serviceaccount", "ingress",
                "poddisruptionbudget", "priorityclass", "quota", "token"}},
    {"auth", {"can-i", "whoami", "reconcile"}},
    {"top", {"pod", "pods", "node", "nodes"}},
    {"certificate", {"approve", "deny"}},
    {"apply", {"view-last-applied", "set-last-applied", "edit-last-applied"}},
};

const std::set<std::string> kKnownVerbs = {
    "get", "describe", "logs", "exec", "attach", "apply", "create", "delete", "scale", "rollout",
    "replace", "patch", "label", "annotate", "set", "run", "expose", "autoscale", "top", "explain",
    "api-resources", "api-versions", "version", "cluster-info", "cordon", "uncordon", "drain", "taint",
    "auth", "certificate", "wait", "events", "debug", "completion", "options", "help"};

// Refused verbs and why.
const std::map<std::string, std::string> kRefusedVerbs = {
    {"config", "kubectl config would show or change the held credential"},
    {"proxy", "kubectl proxy would tunnel around the recording"},
    {"port-forward", "kubectl port-forward would tunnel around the recording"},
    {"cp", "kubectl cp reads and writes files on the bastion host"},
    {"edit", "kubectl edit launches an editor on the bastion host"},
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

bool output_reads_file(const std::string& o) {
  return o.find("-file") != std::string::npos;  // go-template-file=, jsonpath-file=, custom-columns-file=
}

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

KubectlInvocation parse_kubectl(const std::vector<std::string>& argv, const std::string& default_namespace) {
  KubectlInvocation k;
  k.argv = argv;
  std::vector<std::string> pos;
  std::string flag_refusal;  // reported after a refused verb, which says more
  auto refuse = [&flag_refusal](const std::string& why) {
    if (flag_refusal.empty()) flag_refusal = why;
  };
  auto set_flag = [&](const std::string& name, const std::string& value) {
    if (kRefusedFlags.count(name) || name.starts_with("client-"))
      refuse("--" + name + " is not available through the bastion (the bastion holds the credential and the target)");
    k.flags[name] = value;
  };
  // The verb decides what -f means (logs: --follow; elsewhere: --filename).
  auto first_positional = [&]() -> std::string {
    for (std::size_t i = 0; i < argv.size(); ++i) {
      const std::string& a = argv[i];
      if (a == "--") return "";
      if (a.size() > 1 && a[0] == '-') {
        if (a.find('=') == std::string::npos) {
          const bool long_flag = a.starts_with("--");
          const std::string name = long_flag ? a.substr(2) : "";
          if ((long_flag && kValueFlags.count(name)) ||
              (!long_flag && a.size() == 2 && kShortValue.count(a[1]) && a[1] != 'f'))
            ++i;
        }
        continue;
      }
      return a;
    }
    return "";
  };
  const std::string verb0 = first_positional();
  const bool logs = verb0 == "logs";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      k.exec_command.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
    if (a.starts_with("--") && a.size() > 2) {
      const auto eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) set_flag(name, a.substr(eq + 1));
      else if (kValueFlags.count(name) && !(logs && name == "follow")) {
        if (i + 1 >= argv.size()) {
          set_flag(name, "");
          refuse("--" + name + " needs a value");
        } else {
          set_flag(name, argv[++i]);
        }
      } else {
        set_flag(name, "true");
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && a != "-") {
      // -n web, -nweb, -lapp=web, -it, -A
      for (std::size_t j = 1; j < a.size(); ++j) {
        const char c = a[j];
        if (c == 'f' && logs) {
          set_flag("follow", "true");
          continue;
        }
        if (c == 'p' && logs) {
          set_flag("previous", "true");
          continue;
        }
        if (const auto v = kShortValue.find(c); v != kShortValue.end()) {
          std::string value = a.substr(j + 1);
          if (!value.empty() && value[0] == '=') value.erase(0, 1);
          if (value.empty()) {
            if (i + 1 >= argv.size()) {
              refuse("-" + std::string(1, c) + " needs a value");
            } else {
              value = argv[++i];
            }
          }
          set_flag(v->second, value);
          break;
        }
        if (const auto b = kShortBool.find(c); b != kShortBool.end()) {
          if (j + 1 < a.size() && a[j + 1] == '=') {  // -v=9
            set_flag(b->second, a.substr(j + 2));
            break;
          }
          set_flag(b->second, "true");
          continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) break;  // e.g. a negative number
        set_flag(std::string(1, c), "true");
      }
      continue;
    }
    pos.push_back(a);
  }

  // Verb and sub-verb.
  std::size_t p = 0;
  if (pos.empty()) {
    k.verb = "";
  } else {
    k.verb = pos[p++];
    const auto sub = kSubVerbs.find(k.verb);
    if (sub != kSubVerbs.end() && p < pos.size() && sub->second.count(pos[p])) k.verb += " " + pos[p++];
    // "create secret generic NAME": the secret's type is part of the verb too.
    if (k.verb == "create secret" && p < pos.size() && (pos[p] == "generic" || pos[p] == "tls" || pos[p] == "docker-registry"))
      k.verb += " " + pos[p++];
  }
  const std::string base = k.verb.substr(0, k.verb.find(' '));
  if (base.empty()) k.refusal = "no kubectl command given";
  else if (const auto r = kRefusedVerbs.find(base); r != kRefusedVerbs.end()) k.refusal = r->second;
  else if (!kKnownVerbs.count(base))
    k.refusal = "\"" + base + "\" is not a kubectl command the bastion knows (plugins are not available)";
  if (k.refusal.empty()) k.refusal = flag_refusal;

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

  // Files: manifests come through stdin only.
  if (const auto f = k.flags.find("filename"); f != k.flags.end()) {
    if (f->second == "-") k.stdin_manifest = true;
    else if (k.refusal.empty()) k.refusal = ("-f " + f->second + ": files on the bastion host are not available; pass the manifest on stdin (-f -)");
  }
  if (const auto o = k.flags.find("output");
      o != k.flags.end() && output_reads_file(o->second) && k.refusal.empty())
    k.refusal = "-o " + o->second + " reads a file on the bastion host";
  k.interactive = k.flags.count("stdin") || k.flags.count("tty");
  return k;
}

}  // namespace bastion
