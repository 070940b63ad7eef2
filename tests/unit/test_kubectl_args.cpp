// kubectl argv parsing: flags in every form, resource/name forms, namespaces,
// exec commands, and the refusals that hold whatever the policy says.
#include <catch2/catch.hpp>

#include "targets/kubectl/kubectl_args.h"
#include "targets/kubectl/kubectl_flags.h"
#include "targets/kubectl/kubectl_line.h"

using namespace bastion;

namespace {
KubectlInvocation p(std::initializer_list<const char*> a, const char* ns = "default") {
  std::vector<std::string> v(a.begin(), a.end());
  return parse_kubectl(v, ns);
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("resource and name forms", "[kubectl]") {
  auto k = p({"get", "pods", "x", "y"});
  CHECK(k.verb == "get");
  CHECK(k.resources == V{"pods"});
  CHECK(k.names == V{"x", "y"});
  k = p({"get", "pod/x", "deploy/y"});
  CHECK(k.resources == V{"pods", "deployments"});
  CHECK(k.names == V{"x", "y"});
  k = p({"get", "po,svc,deployment.apps"});
  CHECK(k.resources == V{"pods", "services", "deployments"});
  k = p({"describe", "Deployments", "api"});
  CHECK(k.resources == V{"deployments"});
  CHECK(k.names == V{"api"});
  k = p({"logs", "api-7d9"});
  CHECK(k.resources == V{"pods"});
  CHECK(k.names == V{"api-7d9"});
  k = p({"logs", "deploy/api", "-f"});
  CHECK(k.resources == V{"deployments"});
  CHECK(k.flags.at("follow") == "true");
  CHECK_FALSE(k.flags.count("filename"));
  CHECK(normalize_resource("CronJob") == "cronjobs");
  CHECK(normalize_resource("widgets.example.com") == "widgets");
}

TEST_CASE("flags in every form", "[kubectl]") {
  auto k = p({"get", "pods", "-n", "web", "-lapp=web", "--field-selector=status.phase=Running", "-o", "wide", "-w"});
  CHECK(k.namespace_name == "web");
  CHECK(k.namespace_given);
  CHECK(k.flags.at("selector") == "app=web");
  CHECK(k.flags.at("field-selector") == "status.phase=Running");
  CHECK(k.flags.at("output") == "wide");
  CHECK(k.flags.at("watch") == "true");
  CHECK(k.names.empty());
  k = p({"get", "pods", "-nweb"});
  CHECK(k.namespace_name == "web");
  k = p({"get", "pods", "--namespace", "payments", "--selector", "app=x"});
  CHECK(k.namespace_name == "payments");
  CHECK(k.flags.at("selector") == "app=x");
  k = p({"get", "pods", "-A"});
  CHECK(k.all_namespaces);
  CHECK(k.namespace_name == "*");
  k = p({"get", "pods"}, "web");
  CHECK(k.namespace_name == "web");
  CHECK_FALSE(k.namespace_given);
  k = p({"get", "pods", "-v=9"});
  CHECK(k.flags.at("v") == "9");
}

TEST_CASE("sub-verbs and exec commands", "[kubectl]") {
  auto k = p({"rollout", "restart", "deployment/api", "-n", "web"});
  CHECK(k.verb == "rollout restart");
  CHECK(k.resources == V{"deployments"});
  CHECK(k.names == V{"api"});
  k = p({"exec", "-it", "api-7d9", "-n", "web", "--", "sh", "-c", "ls -l"});
  CHECK(k.verb == "exec");
  CHECK(k.interactive);
  CHECK(k.names == V{"api-7d9"});
  CHECK(k.exec_command == V{"sh", "-c", "ls -l"});
  CHECK(k.namespace_name == "web");
  k = p({"create", "secret", "generic", "db", "--from-literal=a=b"});
  CHECK(k.verb == "create secret generic");
  CHECK(k.resources == V{"secrets"});
  CHECK(k.names == V{"db"});
  k = p({"scale", "deploy", "api", "--replicas=3"});
  CHECK(k.resources == V{"deployments"});
  CHECK(k.flags.at("replicas") == "3");
  k = p({"top", "pods"});
  CHECK(k.verb == "top pod");  // kubectl's own command name (pods is an alias)
}

TEST_CASE("always refused", "[kubectl]") {
  for (auto args : std::vector<std::vector<std::string>>{
           {"get", "pods", "--kubeconfig=/x"}, {"get", "pods", "--kubeconfig", "/x"}, {"--context", "c", "get", "pods"},
           {"get", "pods", "--cluster=x"}, {"get", "pods", "--user=x"}, {"get", "pods", "--token=t"},
           {"get", "pods", "--server=https://x"}, {"get", "pods", "-s", "https://x"}, {"get", "pods", "-shttps://x"},
           {"get", "pods", "--as=admin"}, {"get", "pods", "--as-group=g"}, {"get", "pods", "--as-uid=1"},
           {"get", "pods", "--certificate-authority=/x"}, {"get", "pods", "--client-key=/x"},
           {"get", "pods", "--client-certificate=/x"}, {"get", "pods", "--insecure-skip-tls-verify"},
           {"config", "view"}, {"proxy"}, {"port-forward", "pod/x", "80"}, {"cp", "a", "b"}, {"edit", "pod/x"},
           {"plugin", "list"}, {"krew"}, {"apply", "-f", "/etc/x.yaml"}, {"apply", "--filename=x.yaml"},
           {"apply", "-f", "https://evil/x.yaml"}, {"apply", "-k", "dir"}, {"create", "cm", "x", "--from-file=/etc/passwd"},
           {"create", "cm", "x", "--from-env-file=/etc/environment"}, {"get", "pods", "-o", "jsonpath-file=/etc/passwd"},
           {"get", "pods", "--cache-dir=/etc"}, {}}) {
    const auto k = parse_kubectl(args, "default");
    INFO(args.size());
    CHECK_FALSE(k.refusal.empty());
  }
  CHECK(p({"apply", "-f", "-"}).refusal.empty());
  CHECK(p({"apply", "-f", "-"}).stdin_manifest);
  CHECK(p({"get", "pods", "-o", "yaml"}).refusal.empty());
  CHECK(p({"config", "view", "--raw"}).refusal.find("credential") != std::string::npos);
}

TEST_CASE("command lines are tokenized but never given to a shell", "[kubectl]") {
  auto l = parse_kubectl_line("kubectl get pods 'a b' -n web", "default");
  CHECK(l.refusal.empty());
  CHECK(l.invocation.argv == V{"get", "pods", "a b", "-n", "web"});
  CHECK(l.facts.names == V{"a b"});
  CHECK_FALSE(parse_kubectl_line("get pods | sh", "default").refusal.empty());
  CHECK_FALSE(parse_kubectl_line("get pods > /tmp/x", "default").refusal.empty());
  CHECK_FALSE(parse_kubectl_line("get pods $(id)", "default").refusal.empty());
  CHECK_FALSE(parse_kubectl_line("get pods; config view", "default").refusal.empty());
  CHECK_FALSE(parse_kubectl_line("get 'pods", "default").refusal.empty());
}

// Issue 10: argv read exactly as kubectl (cobra + pflag) reads it, from the
// table generated for the installed kubectl.
TEST_CASE("flag names are normalised as kubectl does", "[kubectl]") {
  CHECK(normalize_kubectl_flag("request_timeout") == "request-timeout");
  CHECK(normalize_kubectl_flag("cache__dir") == "cache--dir");
  CHECK(normalize_kubectl_flag(normalize_kubectl_flag("a_b-c")) == "a-b-c");
  // The attack: kubectl runs `config view`; the bastion must see the same.
  auto k = p({"--request_timeout", "get", "config", "view", "--raw"});
  CHECK(k.verb == "config view");
  CHECK(k.refusal == "kubectl config would show or change the held credential");
  k = p({"get", "pods", "--cache_dir=/tmp/x"});
  CHECK(k.refusal == "--cache-dir is not available through the bastion (it names files on the bastion host)");
  k = p({"get", "pods", "--profile_output", "/tmp/x"});
  CHECK(k.refusal == "--profile-output is not available through the bastion (it names files on the bastion host)");
  k = p({"get", "pods", "--certificate_authority=/etc/x"});
  CHECK(k.refusal ==
        "--certificate-authority is not available through the bastion (the bastion holds the credential and the target)");
  k = p({"get", "pods", "--request_timeout=5s"});
  CHECK(k.refusal.empty());
  CHECK(k.flags.at("request-timeout") == "5s");
}

TEST_CASE("every occurrence of a repeated flag is checked", "[kubectl]") {
  auto k = p({"annotate", "-f", "/root/kubeconfig", "-f", "-", "--local", "-o", "yaml", "a=b"});
  CHECK(k.refusal == "-f /root/kubeconfig: files on the bastion host are not available; pass the manifest on stdin (-f -)");
  k = p({"annotate", "-f", "-", "-f", "/root/kubeconfig", "--local", "a=b"});
  CHECK(k.refusal == "-f /root/kubeconfig: files on the bastion host are not available; pass the manifest on stdin (-f -)");
  k = p({"apply", "-f-,/etc/passwd"});  // a slice flag: kubectl splits on ','
  CHECK(k.refusal == "-f -,/etc/passwd: files on the bastion host are not available; pass the manifest on stdin (-f -)");
  k = p({"get", "pods", "-l", "a=b", "-l", "c=d"});
  CHECK(k.refusal.empty());
  CHECK(k.flag_list == std::vector<std::pair<std::string, std::string>>{{"selector", "a=b"}, {"selector", "c=d"}});
}

TEST_CASE("unknown flags and commands are refused", "[kubectl]") {
  CHECK(p({"get", "pods", "--bogus", "x"}).refusal == "unknown flag --bogus for \"get\"");
  CHECK(p({"get", "--dry-run", "pods"}).refusal == "unknown flag --dry-run for \"get\"");  // delete has it, get not
  CHECK(p({"get", "pods", "-Z"}).refusal == "unknown flag -Z in -Z for \"get\"");
  CHECK(p({"get", "pods", "---x"}).refusal == "bad flag syntax: ---x");
  CHECK(p({"get", "pods", "-test.v"}).refusal == "bad flag syntax: -test.v");
  CHECK(p({"krew", "list"}).refusal == "\"krew\" is not a kubectl command the bastion knows (plugins are not available)");
  CHECK(p({"create", "--edit", "-f", "-"}).refusal ==
        "--edit is not available through the bastion (it starts an editor on the bastion host)");
  CHECK(p({"apply", "edit-last-applied", "deploy/x"}).refusal ==
        "kubectl apply edit-last-applied launches an editor on the bastion host");
  CHECK(p({"plugin", "list"}).refusal == "kubectl plugins run programs on the bastion host");
  CHECK(p({"edit", "pod/x"}).refusal == "kubectl edit launches an editor on the bastion host");
}

TEST_CASE("arity as pflag reads it", "[kubectl]") {
  // Boolean: never takes the next word; optional (NoOptDefVal): only with '='.
  auto k = p({"delete", "--dry-run", "pods", "x"});
  CHECK(k.refusal.empty());
  CHECK(k.resources == V{"pods"});
  CHECK(k.names == V{"x"});
  k = p({"delete", "--dry-run=server", "pods", "x"});
  CHECK(k.flags.at("dry-run") == "server");
  k = p({"get", "-A", "pods"});
  CHECK(k.all_namespaces);
  CHECK(k.resources == V{"pods"});
  k = p({"get", "pods", "-nweb"});
  CHECK(k.namespace_name == "web");
  k = p({"get", "pods", "-n=web"});
  CHECK(k.namespace_name == "web");
  k = p({"get", "pods", "-wAn", "web"});  // booleans combined, then a value-taking letter
  CHECK(k.flag_list == std::vector<std::pair<std::string, std::string>>{{"watch", "true"}, {"all-namespaces", "true"}, {"namespace", "web"}});
  k = p({"exec", "-it", "web", "--", "sh"});
  CHECK(k.interactive);
  CHECK(k.exec_command == V{"sh"});
  CHECK(k.names == V{"web"});
  k = p({"-n", "x", "create", "cm", "foo", "--from-literal=a=b"});
  CHECK(k.verb == "create configmap");
  CHECK(k.names == V{"foo"});
  CHECK(k.namespace_name == "x");
  CHECK(p({"get", "pods", "-n"}).refusal == "-n needs a value");
  CHECK(p({"get", "pods", "--namespace"}).refusal == "--namespace needs a value");
}
