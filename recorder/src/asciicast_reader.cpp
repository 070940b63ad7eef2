#include "recorder/asciicast_reader.h"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "recorder/newline_translator.h"
#include "recorder/utf8.h"

namespace recorder {
namespace {

// Header numbers come from files we did not write: never let a float or an
// out-of-range value reach an integer conversion.
template <typename T>
T int_field(const nlohmann::json& j, const char* key, T lo, T hi) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  if (it->is_number_unsigned()) {
    const auto v = it->get<uint64_t>();
    return v > static_cast<uint64_t>(hi) ? 0 : static_cast<T>(v);
  }
  const auto v = it->get<int64_t>();
  return (v < static_cast<int64_t>(lo) || v > static_cast<int64_t>(hi)) ? 0 : static_cast<T>(v);
}

std::string str_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<Asciicast> read_asciicast(std::istream& in, std::string& error) {
  Asciicast cast;
  std::string line;
  std::size_t lineno = 0;
  bool have_header = false;
  while (std::getline(in, line)) {
    ++lineno;
    const bool complete = !in.eof();  // getline hit '\n'
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      if (!complete && have_header) {
        cast.truncated = true;
        break;
      }
      error = "line " + std::to_string(lineno) + ": not valid JSON";
      return std::nullopt;
    }
    if (!have_header) {
      if (!j.is_object() || int_field<int>(j, "version", 0, 100) != 2) {
        error = "line 1: not an asciicast v2 header";
        return std::nullopt;
      }
      cast.header.width = int_field<int>(j, "width", 0, 100000);
      cast.header.height = int_field<int>(j, "height", 0, 100000);
      cast.header.timestamp = int_field<int64_t>(j, "timestamp", 0, INT64_MAX);
      cast.header.title = str_field(j, "title");
      cast.header.command = str_field(j, "command");
      if (j.contains("env") && j["env"].is_object())
        for (auto& [k, v] : j["env"].items())
          if (v.is_string()) cast.header.env[k] = v.get<std::string>();
      if (const auto nl = j.find(kNewlinesHeaderKey); nl != j.end()) {
        // Unknown: the raw bytes could not be told from what was shown.
        const auto how = nl->is_string() ? newlines_from_header(nl->get<std::string>()) : std::nullopt;
        if (!how) {
          error = std::string("line 1: unknown \"") + kNewlinesHeaderKey + "\" value";
          return std::nullopt;
        }
        cast.header.newlines = *how;
      }
      have_header = true;
      continue;
    }
    if (!j.is_array() || j.size() != 3 || !j[0].is_number() || !j[1].is_string() ||
        !j[2].is_string() || j[1].get<std::string>().size() != 1) {
      error = "line " + std::to_string(lineno) + ": malformed event";
      return std::nullopt;
    }
    AsciicastEvent ev{j[0].get<double>(), j[1].get<std::string>()[0], j[2].get<std::string>()};
    if (ev.code == 'b') {
      // Exact bytes of the preceding event, which had replacement characters.
      std::string raw;
      if (cast.events.empty() || !base64_decode(ev.data, raw)) {
        error = "line " + std::to_string(lineno) + ": bad \"b\" event";
        return std::nullopt;
      }
      cast.events.back().data = raw;
      continue;
    }
    cast.events.push_back(std::move(ev));
  }
  if (!have_header) {
    error = "empty file";
    return std::nullopt;
  }
  return cast;
}

std::string asciicast_output(const Asciicast& cast) {
  std::string out;
  for (const auto& e : cast.events)
    if (e.code == 'o') out += e.data;
  return out;
}

std::optional<std::string> asciicast_raw_output(const Asciicast& cast, std::string& error) {
  if (cast.header.newlines == OutputNewlines::raw) return asciicast_output(cast);
  CrlfUndo undo;
  std::string out;
  for (const auto& e : cast.events)
    if (e.code == 'o') undo.feed(e.data, out);
  undo.finish(out);
  if (!undo.ok()) {
    error = "output byte " + std::to_string(undo.bare_lf_at()) + ": a bare LF in a recording whose header says " +
            kNewlinesHeaderKey + " " + kNewlinesCrlf + " (not written by the bastion): the raw bytes are not recoverable";
    return std::nullopt;
  }
  return out;
}

}  // namespace recorder
