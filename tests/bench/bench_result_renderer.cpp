// A large result as CSV (the sql_bench bulk case: an integer and an md5
// per row), rendered in batches as PgExecutor streams it.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "targets/postgres/result_renderer.h"

namespace {

void BM_CsvRows(benchmark::State& st) {
  bastion::PrintOptions o;
  o.format = bastion::PrintOptions::Format::csv;
  const std::vector<bastion::ResultColumn> cols = {{"g", bastion::ResultColumn::Type::number},
                                                   {"md5", bastion::ResultColumn::Type::text}};
  std::vector<std::vector<bastion::Cell>> rows;
  for (int i = 0; i < 1000; ++i) {
    char md5[33];
    std::snprintf(md5, sizeof md5, "%08x%08x%08x%08x", i * 2654435761u, i ^ 0x5bd1e995u, i * 40503u, ~i);
    rows.push_back({bastion::Cell{std::to_string(i + 1), false}, bastion::Cell{md5, false}});
  }
  std::string out;
  for (auto _ : st) {
    auto r = bastion::make_renderer(o, 1000);
    out.clear();
    r->begin(cols, out);
    for (const auto& row : rows) r->row(row, out);
    r->end(rows.size(), out);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(st.iterations() * 1000);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * out.size()));
}
BENCHMARK(BM_CsvRows);

}  // namespace

BENCHMARK_MAIN();
