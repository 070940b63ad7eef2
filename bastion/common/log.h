// Structured log lines: a message plus key=value fields, rendered as text or
// as one JSON object per line (log_format = "json").
#pragma once
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

namespace bastion {

using LogField = std::pair<std::string_view, std::string>;

void log_setup(const std::string& format, const std::string& level);
void log_event(spdlog::level::level_enum level, std::string_view msg,
               std::initializer_list<LogField> fields = {});

inline void log_info(std::string_view msg, std::initializer_list<LogField> f = {}) {
  log_event(spdlog::level::info, msg, f);
}
inline void log_warn(std::string_view msg, std::initializer_list<LogField> f = {}) {
  log_event(spdlog::level::warn, msg, f);
}
inline void log_error(std::string_view msg, std::initializer_list<LogField> f = {}) {
  log_event(spdlog::level::err, msg, f);
}
inline void log_debug(std::string_view msg, std::initializer_list<LogField> f = {}) {
  log_event(spdlog::level::debug, msg, f);
}

}  // namespace bastion
