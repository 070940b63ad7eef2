// source-address matching: comma-separated addresses or CIDR blocks.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

// Returns 1 if `peer` is in `list`, 0 if not, -1 if `list` is malformed.
int address_in_cidr_list(std::string_view peer, std::string_view list);

// True for a literal loopback address (127.0.0.0/8, ::1) or "localhost".
bool is_loopback_address(std::string_view host);

}  // namespace bastion
