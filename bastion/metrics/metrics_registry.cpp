#include "metrics/metrics_registry.h"

#include <algorithm>
#include <cmath>

namespace bastion {
namespace {

// Onward connections (TCP, key exchange, authentication) take milliseconds
// to seconds; policy decisions take microseconds to milliseconds.
const std::vector<double> kConnectBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
const std::vector<double> kPolicyBounds{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                        0.001,   0.0025,   0.005,   0.01,   0.025,   0.05, 0.1};

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // NaN or a clock step back
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), seconds);  // le: first bound >= value
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e9)), std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::counts() const {
  std::vector<uint64_t> c(bounds_.size() + 1);
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = counts_[i].load(std::memory_order_relaxed);
  return c;
}

double Histogram::sum() const { return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9; }

MetricsRegistry::MetricsRegistry(std::vector<std::string> kinds, std::string version)
    : kinds_(std::move(kinds)), version_(std::move(version)), policy_decision_(kPolicyBounds) {
  std::sort(kinds_.begin(), kinds_.end());
  kinds_.erase(std::unique(kinds_.begin(), kinds_.end()), kinds_.end());
  kinds_.erase(std::remove(kinds_.begin(), kinds_.end(), "other"), kinds_.end());
  for (std::size_t i = 0; i <= kinds_.size(); ++i) upstream_.push_back(std::make_unique<Histogram>(kConnectBounds));
}

std::size_t MetricsRegistry::kind_index(std::string_view kind) const {
  const auto it = std::find(kinds_.begin(), kinds_.end(), kind);
  return static_cast<std::size_t>(it - kinds_.begin());  // kinds_.size(): "other"
}

void MetricsRegistry::decision(std::string_view verdict) {
  const auto it = std::find(kVerdicts.begin(), kVerdicts.end(), verdict);
  if (it != kVerdicts.end()) decisions_[static_cast<std::size_t>(it - kVerdicts.begin())].add();
}

uint64_t MetricsRegistry::decisions(std::string_view verdict) const {
  const auto it = std::find(kVerdicts.begin(), kVerdicts.end(), verdict);
  return it == kVerdicts.end() ? 0 : decisions_[static_cast<std::size_t>(it - kVerdicts.begin())].value();
}

Histogram& MetricsRegistry::upstream_connect(std::string_view kind) { return *upstream_[kind_index(kind)]; }

std::string MetricsRegistry::render(const MetricsGauges& g) const {
  PrometheusText t;
  t.family("bastion_build_info", "gauge", "bastiond's version (always 1)");
  t.sample("bastion_build_info", {{"version", version_}}, uint64_t{1});

  t.family("bastion_sessions_active", "gauge", "Authenticated sessions open now, by the kind of their target");
  for (const auto& [kind, n] : g.sessions_by_kind) t.sample("bastion_sessions_active", {{"kind", kind}}, n);

  t.family("bastion_decisions_total", "counter", "Decisions taken (sessions, channels, commands), by verdict");
  for (std::size_t i = 0; i < kVerdicts.size(); ++i)
    t.sample("bastion_decisions_total", {{"verdict", std::string(kVerdicts[i])}}, decisions_[i].value());

  if (g.approvals_pending >= 0) {
    t.family("bastion_approvals_pending", "gauge", "Approval requests waiting for a decision");
    t.sample("bastion_approvals_pending", {}, static_cast<uint64_t>(g.approvals_pending));
  }

  if (g.recordings_unshipped >= 0) {
    t.family("bastion_recordings_unshipped", "gauge", "Closed recordings still on local disk, not yet in the recordings_store");
    t.sample("bastion_recordings_unshipped", {}, static_cast<uint64_t>(g.recordings_unshipped));
    t.family("bastion_recording_upload_failures_total", "counter", "Failed attempts to ship a recording to the recordings_store");
    t.sample("bastion_recording_upload_failures_total", {}, static_cast<uint64_t>(g.recording_upload_failures));
  }

  t.family("bastion_auth_failures_total", "counter", "Refused login attempts, by reason");
  for (std::size_t i = 0; i < kAuthFailureCount; ++i)
    t.sample("bastion_auth_failures_total", {{"reason", std::string(kAuthFailureNames[i])}}, auth_failures_[i].value());

  t.family("bastion_upstream_connect_seconds", "histogram",
           "Time to connect and authenticate to a target, by the target's kind");
  for (std::size_t i = 0; i < upstream_.size(); ++i) {
    const Histogram& h = *upstream_[i];
    t.histogram("bastion_upstream_connect_seconds", {{"kind", i < kinds_.size() ? kinds_[i] : "other"}}, h.bounds(),
                h.counts(), h.sum());
  }

  t.family("bastion_policy_decision_seconds", "histogram", "Time the policy took to decide one request");
  t.histogram("bastion_policy_decision_seconds", {}, policy_decision_.bounds(), policy_decision_.counts(),
              policy_decision_.sum());

  t.family("bastion_recording_bytes_total", "counter", "Bytes written to session recordings");
  t.sample("bastion_recording_bytes_total", {}, recording_bytes_.value());
  t.family("bastion_recording_failures_total", "counter",
           "Recordings that could not be opened or failed while written (the size cap is not a failure)");
  t.sample("bastion_recording_failures_total", {}, recording_failures_.value());

  t.family("bastion_config_reload_total", "counter", "Config reloads (SIGHUP, bastionctl reload, policy file change)");
  t.sample("bastion_config_reload_total", {{"result", "ok"}}, reload_ok_.value());
  t.sample("bastion_config_reload_total", {{"result", "error"}}, reload_error_.value());
  return t.text();
}

}  // namespace bastion
