// The usage text of every bastionctl command, in one table (ctl_usage.cpp),
// and the checks bastionctl_main.cpp makes before dispatching: --help / -h
// (usage on stdout, exit 0) and options no subcommand takes (named, exit 2).
#pragma once
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace bastion {

struct CtlUsage {
  const char* command;     // "audit"
  const char* subcommand;  // "commands"; "" when the command has none
  const char* usage;       // lines after "usage: " (several lines allowed)
  // The options it takes, space-separated; a trailing '=' marks one that
  // takes a value ("--config= --json"). nullptr: the subcommand checks its
  // own options (it names an unknown one itself).
  const char* options;
};

// Every entry, in the order `bastionctl --help` prints them.
const std::vector<CtlUsage>& ctl_usage_table();

// An extra usage line (a target kind's own subcommand), checked by itself.
struct ExtraUsage {
  std::string command, usage;
};

// Prints every usage line (with `extra`) to `out`.
void print_all_usage(std::FILE* out, const std::vector<ExtraUsage>& extra);

// What main does before dispatching `command` with `args` (the words after
// it): nullopt to go on; otherwise the exit status, after printing the usage
// (--help, -h) or naming an unknown option on stderr.
std::optional<int> ctl_precheck(const std::string& command, const std::vector<std::string>& args);

}  // namespace bastion
