// Stored UTC times read back as numbers, in C++ rather than in SQL
// (SQLite's julianday() has no PostgreSQL twin): bastionctl verify does its
// time arithmetic the same way on every backend.
#pragma once
#include <optional>
#include <string>

namespace bastion {

// Unix seconds with the fraction (the wall clock).
double unix_now_precise();

// A stored UTC time as Unix seconds: what iso8601()/iso8601_now() write, and
// the same spellings SQLite's julianday() reads: "YYYY-MM-DD", then "T" or
// " " and "HH:MM", ":SS", any fraction, and "Z", "+HH:MM"/"-HH:MM" or
// nothing for UTC. nullopt for anything else.
std::optional<double> parse_utc_time(const std::string& s);

}  // namespace bastion
