#include "metrics/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace bastion {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  // HELP text escapes only backslash and newline.
  std::string h;
  for (char c : help) {
    if (c == '\\') h += "\\\\";
    else if (c == '\n') h += "\\n";
    else h += c;
  }
  out_.append("# HELP ").append(name).append(" ").append(h).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusText::series(std::string_view name, const MetricLabels& labels) {
  out_.append(name);
  if (labels.empty()) return;
  out_ += '{';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out_ += ',';
    out_.append(labels[i].first).append("=\"").append(escape_label_value(labels[i].second)).append("\"");
  }
  out_ += '}';
}

void PrometheusText::sample(std::string_view name, const MetricLabels& labels, double value) {
  series(name, labels);
  out_.append(" ").append(format_metric_value(value)).append("\n");
}

void PrometheusText::sample(std::string_view name, const MetricLabels& labels, uint64_t value) {
  series(name, labels);
  out_.append(" ").append(std::to_string(value)).append("\n");
}

void PrometheusText::histogram(std::string_view name, const MetricLabels& labels, const std::vector<double>& bounds,
                               const std::vector<uint64_t>& counts, double sum) {
  const std::string n(name);
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    MetricLabels l = labels;
    l.emplace_back("le", i < bounds.size() ? format_metric_value(bounds[i]) : "+Inf");
    sample(n + "_bucket", l, cumulative);
  }
  sample(n + "_sum", labels, sum);
  sample(n + "_count", labels, cumulative);
}

}  // namespace bastion
