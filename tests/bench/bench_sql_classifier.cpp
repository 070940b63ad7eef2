// Time to split and classify one statement with libpg_query (goal: <= 50 µs),
// against libpg_query's bare parse of the same text as the floor.
#include <benchmark/benchmark.h>

#include <pg_query.h>

#include "targets/postgres/sql_classifier.h"

namespace {

const char* kSimple = "SELECT id, email FROM public.users WHERE id = 42";
const char* kComplex =
    "WITH recent AS (SELECT o.user_id, sum(o.total) AS spent FROM orders o "
    "WHERE o.created_at > now() - interval '30 days' GROUP BY o.user_id) "
    "SELECT u.id, u.email, r.spent FROM users u JOIN recent r ON r.user_id = u.id "
    "WHERE r.spent > 100 ORDER BY r.spent DESC LIMIT 50";

void BM_Classify(benchmark::State& st, const char* sql) {
  for (auto _ : st) benchmark::DoNotOptimize(bastion::classify_sql(sql));
}

void BM_ParseOnly(benchmark::State& st, const char* sql) {
  for (auto _ : st) {
    PgQueryParseResult r = pg_query_parse(sql);
    benchmark::DoNotOptimize(r.parse_tree);
    pg_query_free_parse_result(r);
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_Classify, simple, kSimple);
BENCHMARK_CAPTURE(BM_ParseOnly, simple, kSimple);
BENCHMARK_CAPTURE(BM_Classify, cte_join, kComplex);
BENCHMARK_CAPTURE(BM_ParseOnly, cte_join, kComplex);
BENCHMARK_MAIN();
