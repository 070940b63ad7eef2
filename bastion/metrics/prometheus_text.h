// Prometheus text exposition format, version 0.0.4: one family at a time
// (HELP, TYPE, then its samples). Only names the caller spells go in; label
// values are escaped, so no value can end its quotes or start a line.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bastion {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// `\` -> `\\`, `"` -> `\"`, newline -> `\n` (the format's three escapes).
std::string escape_label_value(std::string_view v);

class PrometheusText {
 public:
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // type: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const MetricLabels& labels, double value);
  void sample(std::string_view name, const MetricLabels& labels, uint64_t value);
  // A histogram's _bucket (cumulative, with +Inf), _sum and _count lines.
  // `counts` holds one count per bound plus the overflow, not cumulative.
  void histogram(std::string_view name, const MetricLabels& labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, double sum);
  const std::string& text() const { return out_; }

 private:
  void series(std::string_view name, const MetricLabels& labels);
  std::string out_;
};

// A float as the format reads it: shortest round-trip form, +Inf/-Inf/NaN.
std::string format_metric_value(double v);

}  // namespace bastion
