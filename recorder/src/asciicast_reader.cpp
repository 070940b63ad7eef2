#include "recorder/asciicast_reader.h"

#include <nlohmann/json.hpp>

#include "recorder/utf8.h"

namespace recorder {

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
      if (!j.is_object() || j.value("version", 0) != 2) {
        error = "line 1: not an asciicast v2 header";
        return std::nullopt;
      }
      cast.header.width = j.value("width", 0);
      cast.header.height = j.value("height", 0);
      cast.header.timestamp = j.value("timestamp", int64_t{0});
      cast.header.title = j.value("title", "");
      cast.header.command = j.value("command", "");
      if (j.contains("env") && j["env"].is_object())
        for (auto& [k, v] : j["env"].items())
          if (v.is_string()) cast.header.env[k] = v.get<std::string>();
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

}  // namespace recorder
