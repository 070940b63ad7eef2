// kubectl argv parsing: flags in every form, resource/name forms, namespaces,
// exec commands, and the refusals that hold whatever the policy says.
#include <catch2/catch.hpp>

#include "targets/kubectl/kubectl_args.h"
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
  CHECK(k.verb == "top pods");
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
