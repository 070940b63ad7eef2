// The text log format: one event per line, user-controlled values escaped.
#include <catch2/catch.hpp>

#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include "common/log.h"

namespace {

// Routes the "bastion" logger into a string for one test, then removes it.
struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  CapturedLog() {
    spdlog::drop("bastion");
    auto logger = std::make_shared<spdlog::logger>("bastion", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    spdlog::register_logger(logger);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() {
    spdlog::drop("bastion");
    spdlog::set_default_logger(previous);
  }
  // The line without its timestamp and level.
  std::string event() {
    const std::string s = out.str();
    const auto sp = s.find(" info ");
    return sp == std::string::npos ? s : s.substr(sp + 6);
  }
};

}  // namespace

TEST_CASE("text log: user-controlled values cannot forge a line or reach the terminal", "[display]") {
  CapturedLog log;
  bastion::log_setup("text", "info");
  bastion::log_info("session opened", {{"session", "s1"},
                                       {"identity", "alice\x1b[2K\rroot\nforged line"},
                                       {"target", "web1 \"x\"=y"},
                                       {"reason", "ls \xE2\x80\xAE" "fdp"},
                                       {"path", "C:\\tmp"},
                                       {"empty", ""}});
  CHECK(log.event() ==
        "session opened session=s1 identity=\"alice\\x1b[2K\\rroot\\nforged line\" target=\"web1 \\\"x\\\"=y\" "
        "reason=\"ls \\u202efdp\" path=C:\\\\tmp empty=\"\"\n");
}

TEST_CASE("json log: still JSON, non-ASCII as \\u escapes", "[display]") {
  CapturedLog log;
  bastion::log_setup("json", "info");
  bastion::log_info("m", {{"identity", "a\x1b\n\xE2\x80\xAE"}});
  const std::string s = log.out.str();
  CHECK(s.find("\"identity\":\"a\\u001b\\n\\u202e\"") != std::string::npos);
  bastion::log_setup("text", "info");  // leave the process in the default format
}

TEST_CASE("json log: an ASCII event is spelled as nlohmann's dump spells it", "[display]") {
  // The fast path (no json tree) must write what the general path writes:
  // same keys in the same order, same escapes (DEL too, ensure_ascii).
  CapturedLog log;
  bastion::log_setup("json", "info");
  const std::string nasty = std::string("q\"uo\\te c\x01\x1f\b\f\n\r\t del\x7f end\0!", 27);
  bastion::log_info("m \"x\"", {{"session", "s1"}, {"text", nasty}, {"empty", ""}});
  bastion::log_info("dup", {{"k", "1"}, {"k", "2"}, {"msg", "over"}});  // the general path
  bastion::log_setup("text", "info");
  std::istringstream lines(log.out.str());
  std::string first, second;
  REQUIRE(std::getline(lines, first));
  REQUIRE(std::getline(lines, second));
  const auto j = nlohmann::ordered_json::parse(first);
  nlohmann::ordered_json want;
  want["time"] = j["time"];
  want["level"] = "info";
  want["msg"] = "m \"x\"";
  want["session"] = "s1";
  want["text"] = nasty;
  want["empty"] = "";
  CHECK(first == want.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
  CHECK(first.find("del\\u007f end\\u0000!") != std::string::npos);
  const auto d = nlohmann::ordered_json::parse(second);
  CHECK(d["msg"] == "over");
  CHECK(d["k"] == "2");
}
