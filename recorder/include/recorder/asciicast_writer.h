// asciicast v2 writer: header line, then one JSON array per event.
// Guarantees: never splits a UTF-8 character across events (incomplete tails
// are carried to the next chunk), invalid bytes are replaced by U+FFFD in the
// event and kept exactly in a following "b" event (base64; players ignore
// unknown codes), and the total size never passes the cap.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "recorder/line_chain.h"
#include "recorder/line_sink.h"
#include "recorder/newline_translator.h"

namespace recorder {

struct AsciicastHeader {
  int width = 80;
  int height = 24;
  int64_t timestamp = 0;  // unix seconds
  std::string title;
  std::string command;  // empty: omitted
  std::map<std::string, std::string> env;  // e.g. TERM
  OutputNewlines newlines = OutputNewlines::raw;  // crlf: the header says so
};

enum class WriteResult { ok, capped, failed };

class AsciicastWriter {
 public:
  using Clock = std::function<double()>;  // monotonic seconds

  // max_bytes == 0 means no cap.
  AsciicastWriter(std::unique_ptr<LineSink> sink, const AsciicastHeader& header,
                  uint64_t max_bytes, Clock clock);
  ~AsciicastWriter();
  AsciicastWriter(const AsciicastWriter&) = delete;
  AsciicastWriter& operator=(const AsciicastWriter&) = delete;

  // Output as the target sent it; a crlf header records each '\n' as "\r\n"
  // (newline_translator.h), translated as it is escaped.
  WriteResult output(std::string_view bytes);
  WriteResult input(std::string_view bytes);
  WriteResult resize(int cols, int rows);
  WriteResult marker(std::string_view label);
  // Emits carried partial characters and closes the sink.
  void finish();

  uint64_t bytes_written() const { return bytes_; }
  // Event lines handed to the sink (header not counted): chain_state().events
  // without asking a chaining sink to flush (a session asks this before
  // every sleep; the flush belongs on the flusher's thread).
  uint64_t events_handed() const { return lines_ ? lines_ - 1 : 0; }
  // The hash chain over every line handed to the sink (header included).
  // A sink that chains lines itself is flushed to answer.
  ChainState chain_state() const;
  std::string last_line_digest() const;
  bool capped() const { return capped_; }
  bool failed() const { return sink_->failed(); }
  std::string error() const { return sink_->error(); }

  // Room kept free for the final "cap reached" marker.
  static constexpr uint64_t kCapReserve = 256;

 private:
  WriteResult stream(char code, std::string& carry, std::string_view bytes, bool final, bool lf_as_crlf);
  WriteResult emit(std::string line);
  // Past the cap: the marker line, then nothing more.
  WriteResult cap();
  void hand_over(std::string line);  // to the sink, through the chain
  std::string event_prefix(char code) const;

  std::unique_ptr<LineSink> sink_;
  bool sink_chains_;  // the sink extends the chain (chain_ unused)
  bool output_crlf_;  // the header says crlf: output() records '\n' as "\r\n"
  uint64_t max_bytes_;
  Clock clock_;
  double start_;
  uint64_t bytes_ = 0;
  uint64_t lines_ = 0;  // header included
  bool capped_ = false;
  bool finished_ = false;
  std::string carry_out_, carry_in_;
  LineChain chain_;
};

}  // namespace recorder
