#include "common/log.h"

#include <atomic>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>

#include "common/display_escape.h"

namespace bastion {
namespace {
// Set once at start-up (and on reload) before sessions log; read-only after.
std::atomic<bool> g_json{false};

// A field value in the text format. Values carry key IDs, names, commands and
// error text that users control: display_escape keeps every event on one
// line and keeps control, bidi and invisible characters away from the
// terminal of whoever reads the log. Quoted when empty or when it holds a
// space, '"' or '=' (so `k=v` pairs split unambiguously); inside quotes '"'
// is written \" (display_escape already doubled every backslash).
std::string text_value(const std::string& v) {
  std::string e = display_escape(v);
  if (!e.empty() && e.find_first_of(" \"=") == std::string::npos) return e;
  std::string q = "\"";
  for (char c : e) {
    if (c == '"') q += '\\';
    q += c;
  }
  return q + '"';
}
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
    // ensure_ascii: bidi and invisible characters arrive as \uXXXX, so a log
    // read with tail or less cannot be reordered by them; still plain JSON.
    spdlog::log(level, "{}", j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string line = display_escape(msg);
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    line += text_value(v);
  }
  spdlog::log(level, "{}", line);
}

}  // namespace bastion
