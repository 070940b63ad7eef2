// What bastiond counts for Prometheus: owned by the ServerContext (no
// globals), written from any thread without locks (relaxed atomics: each
// value is exact, a scrape is not one instant across values). Every label
// set is fixed when the registry is made, so no client can grow it.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/auth_failure_reason.h"
#include "metrics/prometheus_text.h"

namespace bastion {

class Counter {
 public:
  void add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Fixed bucket upper bounds (seconds); the sum is kept in nanoseconds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds);
  const std::vector<double>& bounds() const { return bounds_; }
  std::vector<uint64_t> counts() const;  // per bucket, then the overflow
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> sum_ns_{0};
};

// Measures one call into `h`.
template <class F>
auto timed(Histogram& h, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = f();
  h.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return r;
}

// What is read at scrape time rather than counted.
struct MetricsGauges {
  std::vector<std::pair<std::string, uint64_t>> sessions_by_kind;  // every kind, 0 included
  int64_t approvals_pending = -1;                                  // -1: unknown (not exported)
  // recordings_store: closed recordings not in the bucket yet, and failed
  // upload attempts so far (-1: no store configured, not exported).
  int64_t recordings_unshipped = -1;
  int64_t recording_upload_failures = -1;
};

class MetricsRegistry {
 public:
  static constexpr std::array<std::string_view, 5> kVerdicts{"allow", "deny", "review", "mask", "invalid"};

  // `kinds`: the target kinds (and the bastion's own targets) sessions and
  // upstream connections are labelled with; anything else counts as "other".
  MetricsRegistry(std::vector<std::string> kinds, std::string version);

  // A decision by its name (Decision::name()); an unknown name is not counted.
  void decision(std::string_view verdict);
  void auth_failure(AuthFailure reason) { auth_failures_[static_cast<std::size_t>(reason)].add(); }
  Histogram& upstream_connect(std::string_view kind);
  Histogram& policy_decision() { return policy_decision_; }
  void recording_bytes(uint64_t n) { recording_bytes_.add(n); }
  void recording_failure() { recording_failures_.add(); }
  void config_reload(bool ok) { (ok ? reload_ok_ : reload_error_).add(); }

  const std::vector<std::string>& kinds() const { return kinds_; }
  uint64_t decisions(std::string_view verdict) const;
  uint64_t auth_failures(AuthFailure r) const { return auth_failures_[static_cast<std::size_t>(r)].value(); }

  // The whole exposition, with the gauges read by the caller.
  std::string render(const MetricsGauges& g) const;

 private:
  std::size_t kind_index(std::string_view kind) const;

  std::vector<std::string> kinds_;  // then "other"
  std::string version_;
  std::array<Counter, kVerdicts.size()> decisions_;
  std::array<Counter, kAuthFailureCount> auth_failures_;
  std::vector<std::unique_ptr<Histogram>> upstream_;  // per kinds_, then "other"
  Histogram policy_decision_;
  Counter recording_bytes_, recording_failures_, reload_ok_, reload_error_;
};

}  // namespace bastion
