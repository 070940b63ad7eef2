// Screen model feed cost for bulk output in a pty: MB/s of libvterm 0.1.4
// fed every byte, against VtermFeedCompactor + libvterm (what the pty line
// tracker feeds), for plain log lines, SGR-coloured `ls` lines and a
// vim-like full-screen redraw, at 80x24 and 200x50. Input in 16 KiB chunks,
// as a channel delivers it; a flush at the end (the screen is then exact).
#include <benchmark/benchmark.h>
#include <vterm.h>

#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "sources/vterm_feed_compactor.h"

namespace {

constexpr std::size_t kBytes = 4 << 20;
constexpr std::size_t kChunk = 16 << 10;

std::string plain_logs() {
  std::mt19937 rng(1);
  std::string s;
  while (s.size() < kBytes)
    s += "2026-11-30T07:00:00Z INFO worker[" + std::to_string(rng() % 9000) + "]: processed request id=" +
         std::to_string(rng()) + " in " + std::to_string(rng() % 900) + "ms\r\n";
  return s;
}

std::string sgr_lines() {
  static const char* const kinds[] = {"\x1b[01;34m", "\x1b[01;32m", "\x1b[01;36m", "\x1b[40;33;01m", ""};
  std::mt19937 rng(2);
  std::string s;
  while (s.size() < kBytes) {
    s += "\x1b[0m";
    for (int k = 0; k < 4; ++k) s += std::string(kinds[rng() % 5]) + "name_" + std::to_string(rng() % 100000) + "\x1b[0m  ";
    s += "\r\n";
  }
  return s;
}

std::string vim_redraw(int rows, int cols) {
  std::mt19937 rng(3);
  std::string s = "\x1b[?1049h\x1b[H\x1b[2J";
  for (int f = 0; s.size() < kBytes; ++f) {
    s += "\x1b[?25l\x1b[1;" + std::to_string(rows - 1) + "r";
    for (int r = 1; r < rows; ++r) {
      s += "\x1b[" + std::to_string(r) + ";1H\x1b[34m" + std::to_string(r + f) + "\x1b[m ";
      s += std::string(rng() % static_cast<unsigned>(cols - 8), static_cast<char>('a' + (r + f) % 26)) + "\x1b[K";
    }
    s += "\x1b[r\x1b[" + std::to_string(rows) + ";1H\x1b[7m-- INSERT --\x1b[m\x1b[K\x1b[5;5H\x1b[?25h";
  }
  return s;
}

const std::string& stream(int kind, int rows, int cols) {
  static const std::string logs = plain_logs(), sgr = sgr_lines();
  static const std::string vim80 = vim_redraw(24, 80), vim200 = vim_redraw(50, 200);
  if (kind == 0) return logs;
  if (kind == 1) return sgr;
  return (rows == 24 && cols == 80) ? vim80 : vim200;
}

struct VTermFree {
  void operator()(VTerm* vt) const { vterm_free(vt); }
};

std::unique_ptr<VTerm, VTermFree> make_term(int rows, int cols) {
  std::unique_ptr<VTerm, VTermFree> vt(vterm_new(rows, cols));
  vterm_set_utf8(vt.get(), 1);
  VTermScreen* screen = vterm_obtain_screen(vt.get());
  vterm_screen_enable_altscreen(screen, 1);
  vterm_screen_reset(screen, 1);
  return vt;
}

void BM_VtermAll(benchmark::State& st) {
  const int rows = static_cast<int>(st.range(1)), cols = static_cast<int>(st.range(2));
  const std::string_view s = stream(static_cast<int>(st.range(0)), rows, cols);
  for (auto _ : st) {
    auto vt = make_term(rows, cols);
    for (std::size_t i = 0; i < s.size(); i += kChunk) {
      const std::string_view c = s.substr(i, kChunk);
      vterm_input_write(vt.get(), c.data(), c.size());
    }
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * s.size()));
}

void BM_VtermCompacted(benchmark::State& st) {
  const int rows = static_cast<int>(st.range(1)), cols = static_cast<int>(st.range(2));
  const std::string_view s = stream(static_cast<int>(st.range(0)), rows, cols);
  double fed = 0;
  for (auto _ : st) {
    auto vt = make_term(rows, cols);
    bastion::VtermFeedCompactor c(rows, cols);
    const bastion::VtermFeedCompactor::Sink sink = [&](std::string_view b) {
      vterm_input_write(vt.get(), b.data(), b.size());
    };
    for (std::size_t i = 0; i < s.size(); i += kChunk) c.push(s.substr(i, kChunk), sink);
    c.flush(sink);
    fed = 1.0 - static_cast<double>(c.skipped_bytes()) / static_cast<double>(s.size());
  }
  st.counters["fed_fraction"] = fed;
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * s.size()));
}

// Arguments: stream (0 plain logs, 1 SGR lines, 2 vim redraw), rows, cols.
void sizes(benchmark::internal::Benchmark* b) {
  for (int kind : {0, 1, 2})
    for (auto [r, c] : {std::pair{24, 80}, std::pair{50, 200}}) b->Args({kind, r, c});
  b->ArgNames({"stream", "rows", "cols"})->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_VtermAll)->Apply(sizes);
BENCHMARK(BM_VtermCompacted)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
