// Recording cost on the output path: bytes/s through the asciicast writer
// (UTF-8 carry, JSON escaping, cap accounting) into memory, against
// nlohmann::json's own string escaping of the same bytes as a baseline.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "recorder/asciicast_writer.h"
#include "recorder/newline_translator.h"

namespace {

class NullSink : public recorder::LineSink {
 public:
  void write_line(std::string line) override { benchmark::DoNotOptimize(line.data()); }
  bool failed() const override { return false; }
  std::string error() const override { return {}; }
  void close() override {}
};

std::string sample(bool utf8) {
  std::string s;
  while (s.size() < 32768)
    s += utf8 ? "drwxr-xr-x  2 root root 4096 Nov 28 été ünïcode ✓ \x1b[01;34mdir\x1b[0m\r\n"
              : "drwxr-xr-x  2 root root 4096 Nov 28 23:59 \x1b[01;34mdirectory\x1b[0m\r\n";
  return s;
}

void BM_WriterOutput(benchmark::State& st, bool utf8) {
  const std::string chunk = sample(utf8);
  recorder::AsciicastWriter w(std::make_unique<NullSink>(), {}, 0, [] { return 1.0; });
  for (auto _ : st) w.output(chunk);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * chunk.size()));
}

std::string plain_text() {
  std::string chunk;
  while (chunk.size() < 32768) chunk += "the quick brown fox jumps over the lazy dog 0123456789\n";
  return chunk;
}

// The bulk case of the end-to-end benchmark: `yes '...'` through a channel
// without a pty (a crlf header: LF recorded as CRLF as it is escaped).
void BM_WriterPlainText(benchmark::State& st) {
  const std::string chunk = plain_text();
  recorder::AsciicastHeader h;
  h.newlines = recorder::OutputNewlines::crlf;
  recorder::AsciicastWriter w(std::make_unique<NullSink>(), h, 0, [] { return 1.0; });
  for (auto _ : st) w.output(chunk);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * chunk.size()));
}

// The same bytes the way they were recorded before the fusion: a translated
// copy per chunk, then escaped (the comparison for BM_WriterPlainText).
void BM_WriterPlainTextTwoPass(benchmark::State& st) {
  const std::string chunk = plain_text();
  recorder::AsciicastWriter w(std::make_unique<NullSink>(), {}, 0, [] { return 1.0; });
  for (auto _ : st) w.output(recorder::lf_to_crlf(chunk));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * chunk.size()));
}

void BM_NlohmannDump(benchmark::State& st, bool utf8) {
  const std::string chunk = sample(utf8);
  for (auto _ : st) {
    nlohmann::json j = nlohmann::json::array({1.0, "o", chunk});
    std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    benchmark::DoNotOptimize(s.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * chunk.size()));
}

}  // namespace

BENCHMARK(BM_WriterPlainText);
BENCHMARK(BM_WriterPlainTextTwoPass);
BENCHMARK_CAPTURE(BM_WriterOutput, ascii, false);
BENCHMARK_CAPTURE(BM_NlohmannDump, ascii, false);
BENCHMARK_CAPTURE(BM_WriterOutput, utf8, true);
BENCHMARK_CAPTURE(BM_NlohmannDump, utf8, true);
BENCHMARK_MAIN();
