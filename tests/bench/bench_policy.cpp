// One on_command decision with the default example policy (policies/default.lua),
// including building the context table and the shell parse, against the
// built-in allow-all policy as the floor.
#include <benchmark/benchmark.h>

#include "policy/policy_chain.h"

#ifndef BASTION_POLICIES_DIR
#error "BASTION_POLICIES_DIR must be defined"
#endif

namespace {

bastion::CommandRequest request(const char* text) {
  bastion::CommandRequest r;
  r.session.session_id = "bench";
  r.session.identity = "alice";
  r.session.principals = {"ops", "dev"};
  r.session.source_address = "10.0.0.7";
  r.session.target = "web1";
  r.session.target_type = "ssh";
  r.session.target_labels = {{"env", "prod"}, {"team", "payments"}};
  r.kind = "exec";
  r.text = text;
  return r;
}

void BM_DefaultPolicy(benchmark::State& st, const char* text) {
  std::string err;
  auto src = bastion::load_policy_source(std::string(BASTION_POLICIES_DIR) + "/default.lua", {}, err);
  if (!src) {
    st.SkipWithError(err.c_str());
    return;
  }
  auto chain = bastion::PolicyChain::create(src, nullptr, bastion::Decision::Verdict::deny, err);
  const auto req = request(text);
  for (auto _ : st) benchmark::DoNotOptimize(chain->decide(req));
}

void BM_AllowAll(benchmark::State& st) {
  bastion::AllowAllPolicy p;
  const auto req = request("systemctl status nginx");
  for (auto _ : st) benchmark::DoNotOptimize(p.decide(req));
}

void BM_BuildSessionPolicy(benchmark::State& st) {
  std::string err;
  auto src = bastion::load_policy_source(std::string(BASTION_POLICIES_DIR) + "/default.lua", {}, err);
  for (auto _ : st) benchmark::DoNotOptimize(bastion::PolicyChain::create(src, nullptr, bastion::Decision::Verdict::deny, err));
}

}  // namespace

BENCHMARK_CAPTURE(BM_DefaultPolicy, simple, "systemctl status nginx");
BENCHMARK_CAPTURE(BM_DefaultPolicy, compound, "cd /srv/app && git pull && ./deploy.sh --env prod | tee -a /var/log/deploy.log");
BENCHMARK_CAPTURE(BM_DefaultPolicy, denied, "ls; rm -rf /var/lib/app");
BENCHMARK(BM_AllowAll);
BENCHMARK(BM_BuildSessionPolicy);
BENCHMARK_MAIN();
