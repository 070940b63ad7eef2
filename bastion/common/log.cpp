#include "common/log.h"

#include <atomic>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>

#include "common/display_escape.h"
#include "common/json_ascii.h"

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

// The JSON event line, built without a json tree when every text is ASCII
// and no field repeats a name (nlohmann's ordered_json would keep the first
// place and the last value): the bastion logs every decision.
std::optional<std::string> ascii_json_line(double time, std::string_view level, std::string_view msg,
                                           std::initializer_list<LogField> fields) {
  for (auto a = fields.begin(); a != fields.end(); ++a) {
    if (a->first == "time" || a->first == "level" || a->first == "msg") return std::nullopt;
    for (auto b = fields.begin(); b != a; ++b)
      if (b->first == a->first) return std::nullopt;
  }
  char num[64];
  const auto r = std::to_chars(num, num + sizeof num, time);
  if (r.ec != std::errc()) return std::nullopt;
  std::string_view t(num, static_cast<std::size_t>(r.ptr - num));
  if (t.find_first_of(".e") == std::string_view::npos) return std::nullopt;  // nlohmann writes N.0
  std::string out = "{\"time\":";
  out.reserve(256);
  out += t;
  out += ",\"level\":";
  if (!append_ascii_json_string(out, level, JsonDel::escaped)) return std::nullopt;
  out += ",\"msg\":";
  if (!append_ascii_json_string(out, msg, JsonDel::escaped)) return std::nullopt;
  for (const auto& [k, v] : fields) {
    out += ',';
    if (!append_ascii_json_string(out, k, JsonDel::escaped)) return std::nullopt;
    out += ':';
    if (!append_ascii_json_string(out, v, JsonDel::escaped)) return std::nullopt;
  }
  return out += '}';
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
    const auto now = std::chrono::system_clock::now();
    const double time = std::chrono::duration<double>(now.time_since_epoch()).count();
    const auto name = spdlog::level::to_string_view(level);
    if (const auto line = ascii_json_line(time, std::string_view(name.data(), name.size()), msg, fields)) {
      spdlog::log(level, "{}", *line);
      return;
    }
    nlohmann::ordered_json j;
    j["time"] = time;
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
