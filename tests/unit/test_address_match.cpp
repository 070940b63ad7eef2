#include <catch2/catch.hpp>

#include "auth/address_match.h"

using bastion::address_in_cidr_list;

TEST_CASE("source-address lists", "[address]") {
  CHECK(address_in_cidr_list("127.0.0.1", "127.0.0.1") == 1);
  CHECK(address_in_cidr_list("127.0.0.1", "127.0.0.0/8") == 1);
  CHECK(address_in_cidr_list("10.1.2.3", "192.168.0.0/16,10.1.0.0/16") == 1);
  CHECK(address_in_cidr_list("10.2.0.1", "10.1.0.0/16") == 0);
  CHECK(address_in_cidr_list("10.2.0.1", "0.0.0.0/0") == 1);
  CHECK(address_in_cidr_list("::1", "::1/128") == 1);
  CHECK(address_in_cidr_list("2001:db8::5", "2001:db8::/32") == 1);
  CHECK(address_in_cidr_list("2001:db9::5", "2001:db8::/32") == 0);
  CHECK(address_in_cidr_list("::ffff:10.0.0.1", "10.0.0.0/8") == 1);  // mapped v4
  CHECK(address_in_cidr_list("10.0.0.1", "::/0") == 0);  // families do not mix
  CHECK(address_in_cidr_list("10.0.0.1", "10.0.0.0/33") == -1);
  CHECK(address_in_cidr_list("10.0.0.1", "nonsense") == -1);
  CHECK(address_in_cidr_list("10.0.0.1", "10.0.0.0/") == -1);
  CHECK(address_in_cidr_list("10.0.0.1", "") == -1);
}
