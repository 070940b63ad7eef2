#include "recorder/asciicast_writer.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "recorder/utf8.h"

namespace recorder {

AsciicastWriter::AsciicastWriter(std::unique_ptr<LineSink> sink, const AsciicastHeader& h,
                                 uint64_t max_bytes, Clock clock)
    : sink_(std::move(sink)),
      sink_chains_(sink_->chains_lines()),
      output_crlf_(h.newlines == OutputNewlines::crlf),
      max_bytes_(max_bytes),
      clock_(std::move(clock)) {
  start_ = clock_();
  nlohmann::ordered_json j;
  j["version"] = 2;
  j["width"] = h.width;
  j["height"] = h.height;
  j["timestamp"] = h.timestamp;
  if (!h.title.empty()) j["title"] = h.title;
  if (!h.command.empty()) j["command"] = h.command;
  if (!h.env.empty()) j["env"] = h.env;
  if (h.newlines == OutputNewlines::crlf) j[kNewlinesHeaderKey] = kNewlinesCrlf;
  // Strings we did not produce may hold invalid UTF-8: replace, never throw.
  emit(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

AsciicastWriter::~AsciicastWriter() { finish(); }

std::string AsciicastWriter::event_prefix(char code) const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%.6f, \"%c\", \"", clock_() - start_, code);
  return buf;
}

WriteResult AsciicastWriter::emit(std::string line) {
  if (sink_->failed()) return WriteResult::failed;
  if (capped_) return WriteResult::capped;
  if (max_bytes_ && bytes_ + line.size() + kCapReserve > max_bytes_) return cap();
  hand_over(std::move(line));
  return sink_->failed() ? WriteResult::failed : WriteResult::ok;
}

WriteResult AsciicastWriter::cap() {
  capped_ = true;
  std::string m = event_prefix('m');
  m += "recording size cap reached\"]\n";
  hand_over(std::move(m));
  return WriteResult::capped;
}

ChainState AsciicastWriter::chain_state() const {
  if (!sink_chains_) return chain_.state();
  ChainState st;
  std::string last;
  sink_->chain(st, last);
  return st;
}

std::string AsciicastWriter::last_line_digest() const {
  if (!sink_chains_) return chain_.last_line_digest();
  ChainState st;
  std::string last;
  sink_->chain(st, last);
  return last;
}

void AsciicastWriter::hand_over(std::string line) {
  bytes_ += line.size();
  ++lines_;
  if (!sink_chains_) chain_.add(line);
  sink_->write_line(std::move(line));
}

WriteResult AsciicastWriter::stream(char code, std::string& carry, std::string_view bytes,
                                    bool final, bool lf_as_crlf) {
  std::string data;
  std::string_view chunk = bytes;
  if (!carry.empty()) {
    data = carry;
    data.append(bytes);
    carry.clear();
    chunk = data;
  }
  const std::size_t keep = final ? chunk.size() : utf8_complete_prefix(chunk);
  carry.assign(chunk.substr(keep));
  chunk = chunk.substr(0, keep);
  if (chunk.empty()) return capped_ ? WriteResult::capped : WriteResult::ok;

  std::string line = event_prefix(code);
  // The UTF-8 carry is the same with or without the translation: a '\n'
  // ends any sequence before it, so it never sits in an unfinished tail.
  const bool replaced = append_json_escaped(line, chunk, lf_as_crlf);
  line += "\"]\n";
  if (!replaced) return emit(std::move(line));
  const std::string time_part = line.substr(1, line.find(',') - 1);
  // Exact bytes for auditors; players skip the unknown "b" code.
  // (as recorded: translated too; this path is rare, so the copy is here).
  const std::string recorded = lf_as_crlf ? lf_to_crlf(chunk) : std::string(chunk);
  std::string exact = "[" + time_part + ", \"b\", \"" + base64_encode(recorded) + "\"]\n";
  // Both lines or neither: an "o" line alone would give `recording cat
  // --raw` replacement characters the target never sent.
  if (!sink_->failed() && !capped_ && max_bytes_ && bytes_ + line.size() + exact.size() + kCapReserve > max_bytes_)
    return cap();
  WriteResult r = emit(std::move(line));
  if (r != WriteResult::ok) return r;
  return emit(std::move(exact));
}

WriteResult AsciicastWriter::output(std::string_view bytes) {
  return stream('o', carry_out_, bytes, false, output_crlf_);
}

WriteResult AsciicastWriter::input(std::string_view bytes) {
  return stream('i', carry_in_, bytes, false, false);
}

WriteResult AsciicastWriter::resize(int cols, int rows) {
  std::string line = event_prefix('r');
  line += std::to_string(cols) + "x" + std::to_string(rows) + "\"]\n";
  return emit(std::move(line));
}

WriteResult AsciicastWriter::marker(std::string_view label) {
  std::string line = event_prefix('m');
  append_json_escaped(line, label);
  line += "\"]\n";
  return emit(std::move(line));
}

void AsciicastWriter::finish() {
  if (finished_) return;
  finished_ = true;
  if (!carry_out_.empty()) stream('o', carry_out_, {}, true, output_crlf_);
  if (!carry_in_.empty()) stream('i', carry_in_, {}, true, false);
  sink_->close();
}

}  // namespace recorder
