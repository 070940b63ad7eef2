#include "common/log.h"

#include <atomic>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>

namespace bastion {
namespace {
// Set once at start-up (and on reload) before sessions log; read-only after.
std::atomic<bool> g_json{false};
}  // namespace

void log_setup(const std::string& format, const std::string& level) {
  g_json = format == "json";
  auto logger = spdlog::get("bastion");
  if (!logger) {
    logger = spdlog::stderr_logger_mt("bastion");
    spdlog::set_default_logger(logger);
  }
  if (g_json) logger->set_pattern("%v");
  else logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
}

void log_event(spdlog::level::level_enum level, std::string_view msg,
               std::initializer_list<LogField> fields) {
  if (!spdlog::default_logger_raw()->should_log(level)) return;
  if (g_json) {
    nlohmann::ordered_json j;
    const auto now = std::chrono::system_clock::now();
    j["time"] = std::chrono::duration<double>(now.time_since_epoch()).count();
    j["level"] = spdlog::level::to_string_view(level).data();
    j["msg"] = std::string(msg);
    for (const auto& [k, v] : fields) j[std::string(k)] = v;
    spdlog::log(level, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string line(msg);
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    const bool quote = v.empty() || v.find_first_of(" \t\"=") != std::string::npos;
    if (quote) line += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') line += '\\';
      if (c == '\n') line += "\\n";
      else line += c;
    }
    if (quote) line += '"';
  }
  spdlog::log(level, "{}", line);
}

}  // namespace bastion
